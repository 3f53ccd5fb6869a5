"""The `/` filter: pure parsing and matching, no UI and no database.

A filter is words separated by spaces; every word must hold (AND):

- `stream:GLOB`, `worker:GLOB`, `rule:GLOB` match that column. A pattern with
  `*`, `?` or `[` is a glob over the whole value, otherwise a substring.
- `status:S`, `severity:S` match that column exactly (or as a glob).
- a plain word matches any column as a substring.
- `!` before a word (`!status:dead`) or before a pattern (`status:!dead`)
  inverts it.

Matching ignores case. A qualifier a view has no column for matches no row
(and its inverse every row).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

QUALIFIERS = ("stream", "status", "severity", "worker", "rule")
EXACT = frozenset({"status", "severity"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Term:
    field: str | None  # None: any column
    pattern: str
    negate: bool = False

    def matches(self, fields: Mapping[str, str], text: str) -> bool:
        return self._hit(fields, text) != self.negate

    def _hit(self, fields: Mapping[str, str], text: str) -> bool:
        if self.field is None:
            return self.pattern in text
        value = fields.get(self.field)
        if value is None:
            return False
        value = value.lower()
        if _GLOB_CHARS & set(self.pattern):
            return fnmatch.fnmatchcase(value, self.pattern)
        if self.field in EXACT:
            return value == self.pattern
        return self.pattern in value


@dataclass(frozen=True)
class Filter:
    terms: tuple[Term, ...] = ()
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.terms)

    def matches(self, fields: Mapping[str, str], cells: tuple[str, ...] = ()) -> bool:
        """`fields`: the qualifier columns of a row; `cells`: every shown column."""
        if not self.terms:
            return True
        text = "\x00".join([*cells, *fields.values()]).lower()
        return all(term.matches(fields, text) for term in self.terms)


def parse(text: str) -> Filter:
    terms = []
    for word in text.split():
        negate = False
        if word.startswith("!"):
            negate, word = True, word[1:]
        field, sep, pattern = word.partition(":")
        if sep and field.lower() in QUALIFIERS:
            if pattern.startswith("!"):
                negate, pattern = not negate, pattern[1:]
            if pattern:
                terms.append(Term(field.lower(), pattern.lower(), negate))
        elif word:
            terms.append(Term(None, word.lower(), negate))
    return Filter(tuple(terms), text)
