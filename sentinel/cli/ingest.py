"""`sentinel ingest FILE…`: validate and store events."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import tzinfo
from typing import IO, TYPE_CHECKING

import click

from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import InputError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from sentinel.ingest.parse import Rejection

STDIN = "-"


@click.command("ingest")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    help="Input format. Default: from the file name (.jsonl/.ndjson/.json, .csv); jsonl for stdin.",
)
@click.option("--source", help="Source for lines that do not name one.")
@click.option("--stream", help="Stream key for lines that do not name one.")
@click.option(
    "--timezone",
    "timezone_name",
    default="UTC",
    show_default=True,
    help="IANA zone of timestamps written without one (e.g. Europe/Paris).",
)
@click.option("--strict", is_flag=True, help="Any rejected line: store nothing, exit 1.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_context
def ingest(
    ctx: CliContext,
    files: tuple[str, ...],
    fmt: str | None,
    source: str | None,
    stream: str | None,
    timezone_name: str,
    strict: bool,
    as_json: bool,
) -> None:
    """Validate and store events from FILE… (`-` reads stdin).

    Bad lines are reported on stderr (FILE:LINE: reason) and skipped; the
    others are stored. Ingesting the same input again stores nothing twice.
    """
    import psycopg

    from sentinel.db.connect import connect
    from sentinel.ingest import store

    tz = _zone(timezone_name)
    inputs = [(name, _format_of(name, fmt)) for name in files]
    for name, _ in inputs:  # every file readable before anything is stored
        if name != STDIN:
            with _open(name):
                pass

    results: list[store.IngestResult] = []
    conn = connect(ctx.url)
    try:
        with conn.transaction() if strict else contextlib.nullcontext() as tx:
            for name, file_format in inputs:
                report = Rejections()
                with _open(name) as handle, _progress(name, handle, report) as progress:
                    results.append(
                        store.ingest_lines(
                            conn,
                            handle,
                            fmt=file_format,  # type: ignore[arg-type]
                            source=source,
                            stream=stream,
                            tz=tz,
                            strict=strict,
                            name=name,
                            progress=progress,
                            on_reject=report,
                        )
                    )
                report.summarise()
            if strict and any(r.rejected_count for r in results):
                raise psycopg.Rollback(tx)
    finally:
        conn.close()

    total = sum(results[1:], results[0]) if len(results) > 1 else results[0]
    if strict and total.rejected_count:
        raise InputError(f"--strict: {total.rejected_count} line(s) rejected; nothing stored")
    failed = total.rejected_count and not (total.accepted or total.duplicate)
    if as_json:
        document = {
            "accepted": total.accepted,
            "duplicate": total.duplicate,
            "rejected": total.rejected_count,
            "files": [{k: v for k, v in r.as_dict().items() if k != "rejections"} for r in results],
        }
        click.echo(json.dumps(document))
    else:
        if len(results) > 1:
            for result in results:
                click.echo(f"{result.name}: {result.summary()}")
        click.echo(total.summary())
    if failed:  # not one line usable: the input, not some lines, is wrong
        raise InputError(f"nothing stored: all {total.rejected_count:,} line(s) were rejected")


class Rejections:
    """Rejected lines on stderr as FILE:LINE: reason: the first SHOWN of each
    kind of reason, then one line counting the rest, so a file with one
    mistake on every line prints a dozen lines, not a million. While a
    progress bar is drawn, each line first clears the bar, which is then
    drawn again below it."""

    SHOWN = 10

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}  # kind of reason → lines
        self.first: dict[str, Rejection] = {}
        self.bar: ProgressBar[int] | None = None

    def __call__(self, rejection: Rejection) -> None:
        kind = _kind(rejection.reason)
        count = self.counts[kind] = self.counts.get(kind, 0) + 1
        if count == 1:
            self.first[kind] = rejection
        if count <= self.SHOWN:
            self.echo(str(rejection))

    def echo(self, text: str) -> None:
        if self.bar is None:
            click.echo(text, err=True)
            return
        click.echo(f"\r\x1b[2K{text}", err=True)  # erase the bar's line, then write
        click.echo("\r" + self.bar.format_progress_line(), err=True, nl=False)

    def summarise(self) -> None:
        for kind, count in self.counts.items():
            if count > self.SHOWN:
                first = self.first[kind]
                more = count - self.SHOWN
                self.echo(f"{first.name}: and {more:,} more like this: {first.reason}")


def _kind(reason: str) -> str:
    """A reason with its particulars (quoted values, numbers) left out: the
    same mistake on many lines is one kind."""
    return _PARTICULARS.sub("_", reason)


_PARTICULARS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\d+")


def _zone(name: str) -> tzinfo:
    from datetime import UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"unknown time zone {name!r}", param_hint="--timezone") from exc


def _format_of(name: str, fmt: str | None) -> str:
    from sentinel.ingest.store import format_for

    if fmt:
        return fmt
    if name == STDIN:
        return "jsonl"
    guessed = format_for(name)
    if guessed is None:
        raise click.UsageError(f"cannot tell the format of {name}; pass --format jsonl|csv")
    return guessed


@contextlib.contextmanager
def _open(name: str) -> Iterator[IO[str]]:
    """A text stream that never fails on bad bytes (they make the line
    rejected instead) and keeps CSV line endings intact."""
    if name == STDIN:
        binary: IO[bytes] = sys.stdin.buffer
        stream = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline="")
        try:
            yield stream
        finally:
            stream.detach()
        return
    try:
        handle = open(name, encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


@contextlib.contextmanager
def _progress(
    name: str, handle: IO[str], report: Rejections
) -> Iterator[Callable[[int], None] | None]:
    """A progress bar in bytes on a terminal (stderr), nothing otherwise;
    `report` prints its lines around it while it is drawn."""
    if name == STDIN or not sys.stderr.isatty():
        yield None
        return
    raw = handle.buffer  # type: ignore[attr-defined]
    size = os.fstat(raw.fileno()).st_size
    with click.progressbar(length=size, label=name, file=sys.stderr) as bar:
        report.bar = bar
        done = 0

        def advance(_lines: int) -> None:
            nonlocal done
            position = raw.tell()
            bar.update(position - done)
            done = position

        try:
            yield advance
        finally:
            report.bar = None


COMMANDS = [ingest]
