"""`sentinel-tui`: settings, the database check, then the dashboard."""

from __future__ import annotations

import os
import sys

import click


@click.command("sentinel-tui", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--readonly",
    is_flag=True,
    help="Never write: acknowledging, dismissing, shelving and unshelving are off.",
)
@click.option(
    "--by", "actor", metavar="WHO", help="Who reviews and shelves (default: the OS user)."
)
@click.option(
    "--refresh",
    "refresh",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between refreshes.",
)
def main(readonly: bool, actor: str | None, refresh: float) -> None:
    """The live dashboard: fleet, runs, streams, recommendations, detections,
    alarm-system health, shelves."""
    from sentinel.db import errors as db_errors
    from sentinel.db.connect import database_url, mask_url, session_url
    from sentinel.errors import SentinelError
    from sentinel.settings import load_settings
    from sentinel.tui.source import Source

    try:
        settings = load_settings()
        # Direct, not through PgBouncer: the dashboard LISTENs and is one session.
        url = session_url(
            settings,
            database_url(
                settings, on_start=lambda s: click.echo(f"sentinel-tui: {s.start_notice}", err=True)
            ),
        )
        read_url = settings.read_database_url  # a replica for the reads, if any
        Source(url, read_url=read_url).ping()
        db_errors.require_schema(url)  # an un-migrated database: one line, not a banner
    except SentinelError as exc:
        click.echo(f"sentinel-tui: error: {exc}", err=True)
        sys.exit(1)
    from sentinel.tui.app import SentinelApp
    from sentinel.tui.widgets.fleet import Thresholds

    thresholds = Thresholds(settings.heartbeat_interval_seconds, settings.lease_seconds)
    app = SentinelApp(
        url,
        readonly=readonly,
        interval=refresh,
        thresholds=thresholds,
        actor=actor,
        read_url=read_url,
        label=mask_url(read_url) + " (replica)" if read_url else None,
    )
    app.run()
    # The app has quit and restored the terminal; every write it makes is
    # done before it returns. Leave now rather than wait on a background
    # read or LISTEN reconnect still blocked on the database (seen in a
    # container: the process outlived its screen by over 20 s).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(app.return_code or 0)
