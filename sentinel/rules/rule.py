"""A validated rule: the common keys, the kind's parsed parameters, and the
mapping as written (kept for the "rule" evidence and for templates)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sentinel.types import Severity, values

SEVERITIES = values(Severity)


@dataclass(frozen=True, eq=False)
class Rule:
    ref: str
    kind: str
    streams: tuple[str, ...]  # fnmatch globs; `*` also crosses "/"
    kinds: frozenset[str] | None  # event kinds looked at; None = every kind
    severity: str
    recommendation: str
    enabled: bool
    params: Any  # the kind's frozen parameters dataclass
    raw: Mapping[str, Any]  # JSON-safe copy of the rule as written
    file: str = ""
    # refs or globs of the rules whose findings on the same stream are written
    # suppressed while this rule's finding is active
    suppresses: tuple[str, ...] = ()
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _suppresses: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", glob_pattern(self.streams))
        object.__setattr__(self, "_suppresses", glob_pattern(self.suppresses))

    def applies_to(self, stream_key: str) -> bool:
        """Whether any of the rule's globs matches the stream key (fnmatchcase)."""
        return self._pattern.match(stream_key) is not None

    def suppresses_rule(self, ref: str) -> bool:
        """Whether `suppresses:` names the rule `ref` (never the rule itself)."""
        return ref != self.ref and self._suppresses.match(ref) is not None


def glob_pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for all the globs (fnmatchcase: case-sensitive, `*` also
    crosses "/"): matching is then one C call per key. No globs match nothing.
    Every glob of the project (rule streams, `suppresses:`, shelves) means this."""
    joined = "|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs)
    return re.compile(joined or "(?!)")


def glob_problem(glob: Any) -> str | None:
    """What is wrong with a glob as written, or None."""
    if not isinstance(glob, str):
        return "not text"
    if not glob.strip():
        return "empty"
    if glob != glob.strip() or any(c.isspace() and c != " " for c in glob):
        return "leading/trailing or control whitespace"
    depth = 0
    for char in glob:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth = 0
    if depth:
        return "unclosed '[' (a character class needs its ']')"
    return None


def is_glob(text: str) -> bool:
    """Whether a pattern has glob characters (else it names one key exactly)."""
    return any(c in text for c in "*?[")
