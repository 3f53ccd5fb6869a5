"""`sentinel demo`."""

from __future__ import annotations

import click

from sentinel.cli.context import CliContext, pass_context


@click.command("demo")
@click.option("--reset", is_flag=True, help="Start from an empty database.")
@pass_context
def demo(ctx: CliContext, reset: bool) -> None:
    """Run the sample plant end to end and show what the fleet found."""
    from sentinel.db.connect import mask_url
    from sentinel.demo import run_demo

    url = ctx.url
    click.echo(f"Sentinel demo on {mask_url(url)}")
    result = run_demo(
        url,
        reset=reset,
        log_dir=ctx.settings.home / "demo-logs",
        say=lambda text: click.echo(f"  · {text}"),
    )
    runs = ", ".join(f"{n} {status}" for status, n in sorted(result.runs.items()))
    workers = ", ".join(f"{name} ({n} runs)" for name, n in result.workers)
    click.echo("")
    click.echo(f"Workers: {workers or 'none had new work (all events already processed)'}")
    click.echo(f"Runs: {runs or 'none'}")
    click.echo(f"Recommendations ({len(result.recommendations)}, advisory only):")
    for severity, stream, rule, text in result.recommendations:
        click.echo(f"  [{severity.upper():8}] {stream:28} {rule:24} {text}")
    click.echo("")
    click.echo("Explore: sentinel-tui   ·   sentinel recommendations list   ·   sentinel runs list")
    if not result.recommendations:
        raise SystemExit(1)


COMMANDS = [demo]
