"""Named SQL blocks kept in .sql files beside the stores that use them.

A block starts with `-- name: <name>` followed by `-- <description>` lines and
the statement, with `%(param)s` placeholders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import LiteralString

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def load(path: Path) -> dict[str, LiteralString]:
    text = path.read_text()
    parts = _NAME.split(text)
    queries: dict[str, LiteralString] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [line for line in body.strip().splitlines() if not line.startswith("--")]
        if name in queries:
            raise ValueError(f"{path.name}: query {name} defined twice")
        queries[name] = "\n".join(lines).strip()
    return queries


def beside(module_file: str) -> dict[str, LiteralString]:
    """The queries.sql next to a module."""
    return load(Path(module_file).with_name("queries.sql"))
