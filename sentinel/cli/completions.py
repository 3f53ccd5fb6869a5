"""`sentinel completions list|verify` and `sentinel keys generate|public`:
the signed (DSSE) run-completion records and the Ed25519 key that signs them."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import ConfigError, InputError

if TYPE_CHECKING:
    from sentinel.views.rows import CompletionRow


@click.group("completions")
def completions() -> None:
    """Signed records of the completed runs (DSSE envelopes)."""


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from sentinel.rules.durations import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither a duration (90s, 5m, 2h, 1d) nor an ISO time",
            param_hint="--since",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@completions.command("list")
@click.option("--since", metavar="T", help="A duration back from now (1d) or an ISO time.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Print the rows as JSON.")
@pass_context
def list_(ctx: CliContext, since: str | None, limit: int, json_output: bool) -> None:
    """Completion records, newest first."""
    from sentinel.db.connect import connection
    from sentinel.views.read import Views

    with connection(ctx.read_url) as conn:
        rows = Views(conn).completions(since=_since(since), limit=limit + 1)
    render.notice_limit(rows, limit, "completion(s)")
    render.echo_rows(
        rows[:limit],
        [
            ("id", lambda r: r.id),
            ("run", lambda r: r.run_id),
            ("stream", lambda r: r.stream),
            ("window", lambda r: r.window_start),
            ("events", lambda r: r.events),
            ("detections", lambda r: r.detections),
            ("worker", lambda r: r.worker),
            ("fence", lambda r: r.fence),
            ("signed", lambda r: (r.key_id or "")[:16] if r.signed else "no"),
            ("created", lambda r: r.created),
        ],
        json_output=json_output,
        empty="no completion records",
    )


@completions.command("verify")
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The public key (PEM); default: the public half of SENTINEL_SIGNING_KEY_FILE.",
)
@click.option("--run", "run_id", type=int, metavar="ID", help="Only the record of run ID.")
@click.option("--since", metavar="T", help="Only records since a duration back or an ISO time.")
@pass_context
def verify(ctx: CliContext, key_file: Path | None, run_id: int | None, since: str | None) -> None:
    """Check every record's signature (or one run's); exit 1 naming each that
    fails: a changed payload, another key, a cut signature, or unsigned."""
    from sentinel.completions import dsse
    from sentinel.db.connect import connection
    from sentinel.views.read import Views

    path = key_file or ctx.settings.signing_key_file
    public = dsse.load_public(path) if path is not None else None
    with connection(ctx.read_url) as conn:
        rows = Views(conn).completions(since=_since(since), run_id=run_id, limit=None)
    if not rows:
        raise InputError("no completion records" + (f" for run {run_id}" if run_id else ""))
    if public is None:
        unsigned = sum(1 for r in rows if not r.envelope.get("signatures"))
        raise ConfigError(
            f"no key to verify with: give --key FILE or set SENTINEL_SIGNING_KEY_FILE "
            f"({unsigned} of {len(rows)} record(s) are unsigned)"
        )
    failed = 0
    for row in reversed(rows):  # oldest first
        problem = dsse.verify(row.envelope, public)
        if problem is None:
            problem = _mismatch(row)
        if problem is not None:
            failed += 1
            click.echo(f"completion {row.id} (run {row.run_id}, {row.stream}): {problem}")
    if failed:
        click.echo(f"sentinel: {failed} of {len(rows)} record(s) failed verification", err=True)
        sys.exit(1)
    click.echo(f"{len(rows)} record(s) verified with key {dsse.key_id(public)[:16]}")


def _mismatch(row: CompletionRow) -> str | None:
    """A signed payload that is about another run than its row says."""
    import json

    from sentinel.completions import dsse

    record = json.loads(dsse.payload_of(row.envelope))
    if record.get("run_id") != row.run_id or record.get("stream") != row.stream:
        return f"the signed payload is about run {record.get('run_id')}, not this row's"
    return None


@click.group("keys")
def keys() -> None:
    """The Ed25519 key that signs run-completion records."""


@keys.command("generate")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the private key (mode 0600; never overwritten). "
    "Default: SENTINEL_SIGNING_KEY_FILE's path.",
)
@pass_context
def generate(ctx: CliContext, out: Path | None) -> None:
    """Make a new private key file and print its public key (PEM) and key id."""
    from sentinel.completions import dsse

    target = out or _configured_path()
    if target is None:
        raise InputError("give --out FILE (or set SENTINEL_SIGNING_KEY_FILE to where it goes)")
    key = dsse.generate()
    dsse.write_private(target, key)
    click.echo(f"sentinel: wrote the private key to {target}", err=True)
    click.echo(f"sentinel: key id {dsse.key_id(key.public_key())}", err=True)
    click.echo(dsse.public_pem(key.public_key()).decode(), nl=False)


def _configured_path() -> Path | None:
    """SENTINEL_SIGNING_KEY_FILE as given: Settings refuses a file that does
    not exist yet, and this is the command that makes it."""
    import os

    value = os.environ.get("SENTINEL_SIGNING_KEY_FILE")
    return Path(value) if value else None


@keys.command("public")
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A private key file; default: SENTINEL_SIGNING_KEY_FILE.",
)
@pass_context
def public(ctx: CliContext, key_file: Path | None) -> None:
    """Print the public key (PEM) that verifies the records, for consumers."""
    from sentinel.completions import dsse

    path = key_file or ctx.settings.signing_key_file
    if path is None:
        raise ConfigError("no signing key: set SENTINEL_SIGNING_KEY_FILE or give --key FILE")
    key = dsse.load_public(path)
    click.echo(f"sentinel: key id {dsse.key_id(key)}", err=True)
    click.echo(dsse.public_pem(key).decode(), nl=False)


COMMANDS = [completions, keys]
