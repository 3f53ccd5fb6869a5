"""`sentinel report alarms`: the alarm system's health (EEMUA 191, ISA-18.2)
over a period, from the read model (`sentinel/views/alarms.py`)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from sentinel import format as fmt
from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context

if TYPE_CHECKING:
    from sentinel.views.alarms import AlarmReport


@click.group("report")
def report() -> None:
    """Reports over the findings' history."""


@report.command("alarms")
@click.option(
    "--since",
    default="7d",
    show_default=True,
    metavar="D",
    help="The period before now, e.g. 90m, 24h, 7d (rounded up to whole 10 minutes).",
)
@click.option("--stream", metavar="GLOB", help="Only streams matching this glob (one area).")
@click.option("--json", "json_output", is_flag=True, help="Print the report as JSON.")
@pass_context
def alarms(ctx: CliContext, since: str, stream: str | None, json_output: bool) -> None:
    """Alarm-system health: findings per 10 minutes, floods, chattering,
    stale findings, the top 10 rules' share, shelves; against EEMUA 191 and
    ISA-18.2's targets."""
    period = _since(since)
    if stream is not None:
        _check_glob(stream)
    from sentinel.db.connect import connection
    from sentinel.views import alarms as report_of

    with connection(ctx.read_url) as conn:
        found = report_of.read(conn, since=period, stream=stream)
    if json_output:
        click.echo(json.dumps(dataclasses.asdict(found), default=_json_default, indent=2))
    else:
        click.echo(text(found))


def _since(value: str) -> timedelta:
    from sentinel.rules.durations import parse_duration
    from sentinel.views.alarms import buckets_for

    try:
        period = parse_duration(value)
        buckets_for(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    return period


def _check_glob(glob: str) -> None:
    from sentinel.rules.rule import glob_problem

    problem = glob_problem(glob)
    if problem:
        raise click.BadParameter(f"bad glob {glob!r}: {problem}", param_hint="--stream")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# ---- the text -------------------------------------------------------------


def text(r: AlarmReport) -> str:
    """The report as a person reads it: the figures beside their targets,
    then the floods, chattering pairs, stale findings, top rules, shelves."""
    from sentinel.rules.durations import format_duration
    from sentinel.views.alarms import figures

    span = format_duration(r.seconds)
    windows = len(r.per_10m)
    head = [
        f"Alarm-system health of {r.stream or 'every stream'}: "
        f"{_at(r.start, full=True)} to {_at(r.now, full=True)} UTC "
        f"({span}, {windows} ten-minute windows; a finding counts at its first_seen)"
    ]
    if r.in_flood:
        since = r.floods[-1].start
        head.append(
            f"IN FLOOD now: {r.last_10m} findings in the last 10 minutes, in flood since "
            f"{_at(since, full=True)} UTC"
        )
    rows = [
        {
            "figure": f.label,
            "value": f.value,
            "against the target": (
                f"{'ok  ' if f.target.meets else 'OVER'}  {f.target.says}" if f.target else ""
            ),
        }
        for f in figures(r)
    ]
    parts = ["\n".join(head), _table(rows, ["figure", "value", "against the target"])]
    if r.floods:
        parts.append(
            "Floods (UTC)\n"
            + _table(
                [
                    {
                        "start": _at(f.start),
                        "end": "now" if f.ongoing else _at(f.end),
                        "lasted": format_duration(f.seconds),
                        "findings": f.findings,
                        "peak/10m": f.peak,
                    }
                    for f in r.floods
                ],
                ["start", "end", "lasted", "findings", "peak/10m"],
            )
        )
    if r.chattering:
        more = _more(len(r.chattering), r.chattering_total)
        parts.append(
            f"Chattering (3 or more within a minute){more}\n"
            + _table(
                [
                    {
                        "rule": c.rule,
                        "stream": c.stream,
                        "findings": c.findings,
                        "peak/min": c.peak_per_minute,
                    }
                    for c in r.chattering
                ],
                ["rule", "stream", "findings", "peak/min"],
            )
        )
    if r.stale:
        parts.append(
            f"Stale, the oldest first{_more(len(r.stale), r.stale_total)}\n"
            + _table(
                [
                    {
                        "id": s.recommendation_id,
                        "severity": s.severity,
                        "rule": s.rule,
                        "stream": s.stream,
                        "active for": fmt.age(s.age),
                    }
                    for s in r.stale
                ],
                ["id", "severity", "rule", "stream", "active for"],
            )
        )
    if r.top_rules:
        parts.append(
            "Top rules\n"
            + _table(
                [
                    {"rule": t.rule, "findings": t.findings, "share": f"{t.percent:.1f} %"}
                    for t in r.top_rules
                ],
                ["rule", "findings", "share"],
            )
        )
    if r.shelves:
        parts.append(
            f"Live shelves, the oldest first{_more(len(r.shelves), r.shelves_total)}\n"
            + _table(
                [
                    {
                        "id": s.id,
                        "stream": s.stream_glob,
                        "rule": s.rule_glob or "*",
                        "severity": s.severity or "any",
                        "age": format_duration(s.age),
                        "expires in": format_duration(s.expires_in),
                        "shelved": s.findings,
                        "by": s.actor,
                        "reason": render.one_line(s.reason, 40),
                    }
                    for s in r.shelves
                ],
                [
                    "id",
                    "stream",
                    "rule",
                    "severity",
                    "age",
                    "expires in",
                    "shelved",
                    "by",
                    "reason",
                ],
            )
        )
    return "\n\n".join(parts)


def _at(value: datetime, *, full: bool = False) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M" if full else "%m-%d %H:%M")


def _more(shown: int, total: int) -> str:
    return f" ({shown} of {total})" if total > shown else ""


def _table(rows: list[dict[str, Any]], keys: list[str]) -> str:
    return render.table(rows, [(k, _cell(k)) for k in keys])


def _cell(key: str) -> Any:
    return lambda row: row[key]


COMMANDS = [report]
