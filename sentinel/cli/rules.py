"""`sentinel rules check|load PATH`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from sentinel.cli.context import CliContext, pass_context

if TYPE_CHECKING:
    from sentinel.rules.pack import RulePack


@click.group("rules")
def rules() -> None:
    """Validate and store rule packs."""


_PATH = click.Path(exists=True, path_type=Path)


def _validated(path: Path, *, failing: str = "") -> RulePack:
    """The pack at PATH, or every problem on stderr and exit 1."""
    from sentinel.rules import pack as packs

    issues = packs.check_path(path)
    if issues:
        for issue in issues:
            click.echo(str(issue), err=True)
        click.echo(f"sentinel: error: {len(issues)} problem(s) in {path}{failing}", err=True)
        raise SystemExit(1)
    return packs.load_path(path)


@rules.command("check")
@click.argument("path", type=_PATH)
def check(path: Path) -> None:
    """Validate a rule pack (file or folder): every error, with file, rule and reason;
    warnings (patterns that cannot run in linear time) do not fail it."""
    from sentinel.rules import pack as packs

    pack = _validated(path)
    for warning in packs.warnings(pack):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{path}: {len(pack.rules)} rules OK (digest {pack.digest[:12]})")


@rules.command("load")
@click.argument("path", type=_PATH)
@pass_context
def load(ctx: CliContext, path: Path) -> None:
    """Validate and store a rule pack; the fleet uses the newest stored pack."""
    from sentinel.db.connect import connection
    from sentinel.worker.packs import PackStore

    pack = _validated(path, failing="; nothing stored")
    with connection(ctx.url) as conn:
        stored = PackStore(conn).save(pack)
    verb = "stored" if stored.created else "already stored; made current"
    click.echo(f"rule pack {pack.digest[:12]} ({len(pack.rules)} rules) {verb}")


COMMANDS = [rules]
