"""`matches` patterns that cannot hang a pass (DESIGN.md "Condition semantics" 6).

The contract is Python's `re.search`. A backtracking engine can take
exponential time on a pattern like `^(a+)+$`, so a pattern is run one of two
ways, both answering exactly what `re.search` would:

* **Linear time (RE2)** when the pattern can be said in RE2. Python's own
  parser reads it, and the tree is written back in RE2 syntax with nothing
  left to either engine's reading of flags or classes: every literal and class
  becomes the explicit set of characters Python's `re` matches for it (with
  `(?i)`, `(?a)`, `(?s)` and `(?m)` applied), `\\d \\s \\w` are the sets
  Python's own tables give, and `$` becomes `\\n?\\z` where it ends the
  pattern. Whether a match exists does not depend on the engine's
  preferences (greedy, lazy, leftmost), so the answers agree.
* **Time-bounded (the `regex` module)** otherwise: backreferences,
  lookarounds, `\\b`, possessive or atomic groups, case-insensitive non-ASCII
  letters, counted repeats above RE2's 1000, a `$` inside the pattern. Each
  search may take at most MATCH_TIMEOUT seconds (less when the rule's pass
  budget has less left); past it the search raises PatternTimeout, which the
  engine records as a Problem of that event. `sentinel rules check` warns
  about these patterns (`linear_reason`). Its `\\d \\s \\w` are written
  out as Python's sets first (`_python_categories`); its `\\b` still follows
  its own, newer Unicode word characters (they differ from `re`'s only on
  marks and a few digits and symbols outside ASCII).

One module: which engine runs a pattern is decided by the RE2 translation
itself, so the choice and the translation are read together.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Final

from sentinel.errors import SentinelError

MATCH_TIMEOUT: Final = 0.1
"""Seconds one time-bounded search may take (a real payload string takes
microseconds; a catastrophic one takes minutes)."""

RE2_MAX_REPEAT: Final = 1000  # RE2 refuses counted repeats above this
_MAX_CODE_POINT: Final = 0x10FFFF
_NO_MATCH: Final = (-1, -1)

# Set by the engine around a rule: the monotonic time its pass budget ends.
deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sentinel_pattern_deadline", default=None
)


class PatternTimeout(SentinelError):
    """The pattern took too long on this value."""


class Unsupported(Exception):
    """The pattern cannot be said in RE2 with the same meaning (the reason)."""


@dataclass(frozen=True, eq=False)
class SafePattern:
    pattern: str
    linear: bool
    reason: str | None  # why it is not run in linear time
    search: Callable[[str], bool]  # re.search(pattern, text) is not None; may raise PatternTimeout


def linear_reason(pattern: str) -> str | None:
    """None if `pattern` runs in linear time, else why not (for `rules check`)."""
    return compile_pattern(pattern).reason


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> SafePattern:
    """The safe search for a pattern that `re.compile` accepts (re.error otherwise)."""
    from re2 import _re2  # here: only a rule pack with `matches` needs the engines

    re.compile(pattern)
    bounded = _bounded(pattern)
    try:
        source = to_re2(pattern)
        program = _re2.RE2(source.encode(), _options())
        if not program.ok():
            raise Unsupported(f"too large for the linear-time engine ({program.error()})")
    except Unsupported as exc:
        return SafePattern(pattern, False, str(exc), bounded)
    match, unanchored = program.Match, _re2.RE2.Anchor.UNANCHORED

    def search(text: str) -> bool:
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: not UTF-8, so not RE2's
            return bounded(text)
        return bool(match(unanchored, data, 0, len(data))[0] != _NO_MATCH)

    return SafePattern(pattern, True, None, search)


def _options() -> Any:
    from re2 import _re2

    options = _re2.RE2.Options()
    options.never_capture = True
    options.log_errors = False
    options.max_mem = 32 << 20
    return options


def _bounded(pattern: str) -> Callable[[str], bool]:
    import regex

    try:
        compiled = regex.compile(_python_categories(pattern), flags=regex.VERSION0)
    except regex.error:  # valid for re, not for regex: nothing can bound it
        plain = re.compile(pattern).search
        return lambda text: plain(text) is not None
    find = compiled.search

    def search(text: str) -> bool:
        limit = MATCH_TIMEOUT
        ends = deadline.get()
        if ends is not None:
            limit = min(limit, ends - time.monotonic())
            if limit <= 0:
                raise PatternTimeout(f"pattern {pattern!r}: the rule's time budget is spent")
        try:
            return find(text, timeout=limit) is not None
        except TimeoutError:
            raise PatternTimeout(
                f"pattern {pattern!r} took over {limit:.3g} s on a {len(text)}-character value"
            ) from None

    return search


_CATEGORIES: Final = {
    "d": sre.CATEGORY_DIGIT, "D": sre.CATEGORY_NOT_DIGIT,
    "s": sre.CATEGORY_SPACE, "S": sre.CATEGORY_NOT_SPACE,
    "w": sre.CATEGORY_WORD, "W": sre.CATEGORY_NOT_WORD,
}  # fmt: skip


def _python_categories(pattern: str) -> str:
    """The pattern with each \\d \\s \\w (and negation) written out as the
    characters Python's `re` gives it: the `regex` module reads them by a
    newer Unicode (\\s without U+001C..U+001F, \\w with marks and digits
    `re` leaves out). A pattern in verbose mode, whose comments may hold
    brackets, is left as it is."""
    flags = sre_parse.parse(pattern).state.flags
    if flags & sre.SRE_FLAG_VERBOSE or not re.search(r"\\[dDsSwW]", pattern):
        return pattern
    ascii_only = flags & sre.SRE_FLAG_ASCII
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            category = _CATEGORIES.get(escaped)
            if category is None:
                out.append(pattern[i : i + 2])
            else:
                spans = _regex_spans(_category_spans(category, ascii_only))
                out.append(spans if in_class else f"[{spans}]")
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            i += 1
            if pattern.startswith("^", i):  # a ']' right after '[' or '[^' is literal
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append("]")
                i += 1
            continue
        if c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def _regex_spans(spans: Iterable[tuple[int, int]]) -> str:
    def char(c: int) -> str:
        return f"\\U{c:08x}"

    return "".join(char(lo) if lo == hi else f"{char(lo)}-{char(hi)}" for lo, hi in spans)


# -- translation ----------------------------------------------------------------


def to_re2(pattern: str) -> str:
    """RE2 syntax with the meaning `re.search(pattern, ...)` gives it, or Unsupported."""
    parsed = sre_parse.parse(pattern)
    flags = parsed.state.flags
    if flags & (sre.SRE_FLAG_LOCALE | sre.SRE_FLAG_DEBUG):
        raise Unsupported("locale or debug flag")
    return _sequence(list(parsed), flags, tail=True)


def _sequence(items: Sequence[tuple[Any, Any]], flags: int, *, tail: bool) -> str:
    last = len(items) - 1
    return "".join(
        _node(op, av, flags, tail=tail and i == last) for i, (op, av) in enumerate(items)
    )


def _node(op: Any, av: Any, flags: int, *, tail: bool) -> str:
    if op is sre.LITERAL:
        return _charset(flags, literals=[av])
    if op is sre.NOT_LITERAL:
        return _charset(flags, literals=[av], negate=True)
    if op is sre.IN:
        return _in(av, flags)
    if op is sre.ANY:
        return r"[\x{0}-\x{10ffff}]" if flags & sre.SRE_FLAG_DOTALL else r"[^\n]"
    if op is sre.BRANCH:
        return "(?:" + "|".join(_sequence(list(b), flags, tail=tail) for b in av[1]) + ")"
    if op is sre.SUBPATTERN:
        _group, add, remove, body = av
        return "(?:" + _sequence(list(body), (flags | add) & ~remove, tail=tail) + ")"
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):  # lazy or greedy: the same matches exist
        low, high, body = av
        if low > RE2_MAX_REPEAT or (high != sre.MAXREPEAT and high > RE2_MAX_REPEAT):
            raise Unsupported(f"a counted repeat above {RE2_MAX_REPEAT}")
        bound = f"{{{low},}}" if high == sre.MAXREPEAT else f"{{{low},{high}}}"
        return "(?:" + _sequence(list(body), flags, tail=False) + ")" + bound
    if op is sre.AT:
        return _at(av, flags, tail=tail)
    reasons = {
        "GROUPREF": "a backreference",
        "GROUPREF_EXISTS": "a conditional group",
        "ASSERT": "a lookahead or lookbehind",
        "ASSERT_NOT": "a negative lookahead or lookbehind",
        "POSSESSIVE_REPEAT": "a possessive repeat",
        "ATOMIC_GROUP": "an atomic group",
    }
    raise Unsupported(reasons.get(str(op), f"{str(op).lower()}"))


def _at(where: Any, flags: int, *, tail: bool) -> str:
    multiline = flags & sre.SRE_FLAG_MULTILINE
    if where is sre.AT_BEGINNING_STRING:
        return r"\A"
    if where is sre.AT_END_STRING:
        return r"\z"
    if where is sre.AT_BEGINNING:
        return "(?m:^)" if multiline else r"\A"
    if where is sre.AT_END:
        if multiline:
            return "(?m:$)"  # before any newline or at the end, as in Python
        if tail:
            return r"(?:\n?\z)"  # at the end, or before a final newline
        raise Unsupported("a '$' before the end of the pattern")
    raise Unsupported(r"a word boundary (\b or \B)")


def _in(items: Sequence[tuple[Any, Any]], flags: int) -> str:
    negate = False
    literals: list[int] = []
    ranges: list[tuple[int, int]] = []
    categories: list[Any] = []
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            literals.append(av)
        elif op is sre.RANGE:
            ranges.append(av)
        elif op is sre.CATEGORY:
            categories.append(av)
        else:
            raise Unsupported(f"{str(op).lower()} in a class")
    return _charset(flags, literals, ranges, categories, negate=negate)


def _charset(
    flags: int,
    literals: Sequence[int] = (),
    ranges: Sequence[tuple[int, int]] = (),
    categories: Sequence[Any] = (),
    *,
    negate: bool = False,
) -> str:
    """An RE2 class of exactly the characters Python matches for this class."""
    spans: list[tuple[int, int]] = [(c, c) for c in literals] + list(ranges)
    for category in categories:
        spans += _category_spans(category, flags & sre.SRE_FLAG_ASCII)
    if flags & sre.SRE_FLAG_IGNORECASE:
        if any(hi >= 0x80 for lo, hi in [(c, c) for c in literals] + list(ranges)):
            raise Unsupported("a case-insensitive non-ASCII letter")
        # The characters case folding can reach from ASCII are ASCII or a few
        # others (U+0130, U+0131, U+017F, U+212A): ask Python which of them
        # this class matches.
        probe = re.compile(_python_class(literals, ranges, categories), flags & _CASE_FLAGS)
        spans += [
            (c, c) for c in _folding_universe(flags & sre.SRE_FLAG_ASCII) if probe.match(chr(c))
        ]
    if not spans:  # a class nothing is in
        negate, spans = not negate, [(0, _MAX_CODE_POINT)]
    return ("[^" if negate else "[") + _spans_source(spans) + "]"


_CASE_FLAGS: Final = sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_ASCII


def _python_class(
    literals: Iterable[int], ranges: Iterable[tuple[int, int]], categories: Iterable[Any]
) -> str:
    names = {sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D",
             sre.CATEGORY_SPACE: r"\s", sre.CATEGORY_NOT_SPACE: r"\S",
             sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\W"}  # fmt: skip
    parts = [f"\\x{c:02x}" for c in literals]
    parts += [f"\\x{lo:02x}-\\x{hi:02x}" for lo, hi in ranges]
    parts += [names[c] for c in categories]
    return "[" + "".join(parts) + "]" if parts else "(?!)"


@functools.cache
def _folding_universe(ascii_only: int) -> tuple[int, ...]:
    """ASCII and every other character a case-insensitive ASCII class can match."""
    flags = re.IGNORECASE | (re.ASCII if ascii_only else 0)
    others = re.findall(r"[\x00-\x7f]", _every_character()[0x80:], flags)
    return tuple(range(0x80)) + tuple(ord(c) for c in others)


@functools.cache
def _category_spans(category: Any, ascii_only: int) -> list[tuple[int, int]]:
    """The characters Python's `re` puts in \\d \\s \\w (or their negations)."""
    source = {
        sre.CATEGORY_DIGIT: r"\d+", sre.CATEGORY_NOT_DIGIT: r"\D+",
        sre.CATEGORY_SPACE: r"\s+", sre.CATEGORY_NOT_SPACE: r"\S+",
        sre.CATEGORY_WORD: r"\w+", sre.CATEGORY_NOT_WORD: r"\W+",
    }.get(category)  # fmt: skip
    if source is None:
        raise Unsupported(f"{str(category).lower()}")
    text = _every_character()
    pattern = re.compile(source, re.ASCII if ascii_only else 0)
    return [(m.start(), m.end() - 1) for m in pattern.finditer(text)]


@functools.cache
def _every_character() -> str:
    # Surrogates included: Python matches them, and a class holding them is
    # only ever used on text that encodes to UTF-8 (so it holds none).
    return "".join(map(chr, range(_MAX_CODE_POINT + 1)))


def _spans_source(spans: Iterable[tuple[int, int]]) -> str:
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return "".join(
        f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in merged
    )
