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
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One regex for all globs: matching is then one C call per stream key.
        joined = "|".join(f"(?:{fnmatch.translate(glob)})" for glob in self.streams)
        object.__setattr__(self, "_pattern", re.compile(joined or "(?!)"))

    def applies_to(self, stream_key: str) -> bool:
        """Whether any of the rule's globs matches the stream key (fnmatchcase)."""
        return self._pattern.match(stream_key) is not None
