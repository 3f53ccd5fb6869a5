"""The `/` filter: pure parsing and matching, no UI and no database.

A filter is words separated by spaces; every word must hold (AND):

- `stream:GLOB`, `worker:GLOB`, `rule:GLOB` match that column. A pattern with
  `*`, `?` or `[` is a glob over the whole value, otherwise a substring.
- `status:S`, `severity:S`, `role:S`, `state:S` (a finding's combined state)
  match that column exactly (or as a glob).
- a plain word matches any column as a substring.
- `!` before a word (`!status:dead`) or before a pattern (`status:!dead`)
  inverts it.

Matching ignores case. A qualifier a view has no column for matches no row
(and its inverse every row).

The CLI's options (`--status`, `--stream`, `--role`) are terms of the same
filter (`where`), so a list command and the dashboard select the same rows.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass

QUALIFIERS = ("stream", "status", "severity", "worker", "rule", "role", "state")
EXACT = frozenset({"status", "severity", "role", "state"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Term:
    field: str | None  # None: any column
    pattern: str
    negate: bool = False
    whole: bool = False  # a pattern without glob characters is the whole value

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
        if self.field in EXACT or self.whole:
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


def where(**fields: str | None) -> Filter:
    """The filter of a list command's options: each given field a term on the
    whole value (a glob when it has `*`, `?` or `[`), e.g. `where(stream="a/1")`
    is the stream a/1, never a/10."""
    terms = tuple(Term(name, value.lower(), whole=True) for name, value in fields.items() if value)
    return Filter(terms, " ".join(f"{t.field}:{t.pattern}" for t in terms))


# ---- in the database --------------------------------------------------------
#
# The views filter in their queries, before the row limit, so a filter finds
# what the newest rows would hide. A view declares the qualifiers it has: a
# closed set of values (statuses, severities: the pattern is resolved here
# against them, so the query compares an enum with a list and can use its
# indexes) or free text (stream, worker, rule: Postgres regular expressions,
# case-insensitive, that every value must match, and ones none may match).
# Plain words match the view's text columns the same way.


def regex(term: Term) -> str:
    """The Postgres regular expression (ARE) of a text term: a glob anchored
    on the whole value, or a substring."""
    if not _GLOB_CHARS & set(term.pattern):
        return f"^{_escape(term.pattern)}$" if term.whole else _escape(term.pattern)
    out, i, pattern = ["^"], 0, term.pattern
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and pattern.find("]", i + 2) > 0:
            end = pattern.find("]", i + 2)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(_escape(ch))
        i += 1
    return "".join(out) + "$"


def _escape(text: str) -> str:
    return "".join(ch if ch.isalnum() else "\\" + ch for ch in text)


def allowed(flt: Filter, name: str, values: tuple[str, ...]) -> list[str]:
    """The values of a closed qualifier that every term on it lets through."""
    keep = list(values)
    for term in flt.terms:
        if term.field == name:
            keep = [v for v in keep if term.matches({name: v}, "")]
    return keep


def params(
    flt: Filter, closed: dict[str, tuple[str, ...]], text: tuple[str, ...]
) -> dict[str, object]:
    """Query parameters for a view with these qualifiers: `<name>` (allowed
    values) for each closed one, `<name>_re` / `<name>_not` for each text one
    and for plain words (`words_re` / `words_not`), and `nothing` when a term
    asks for a qualifier the view does not have."""
    out: dict[str, object] = {name: allowed(flt, name, values) for name, values in closed.items()}
    for name in (*text, None):
        key = name or "words"
        out[f"{key}_re"] = [regex(t) for t in flt.terms if t.field == name and not t.negate]
        out[f"{key}_not"] = [regex(t) for t in flt.terms if t.field == name and t.negate]
    known = {*closed, *text}
    out["nothing"] = any(
        t.field is not None and t.field not in known and not t.negate for t in flt.terms
    )
    return out
