"""Condition trees over event payloads (DESIGN.md "Condition semantics").

`evaluate` is the reference. `compile_condition` builds a closure tree once
(paths pre-split, regexes compiled, `in` lists frozen) and must agree with it;
the property tests in tests/unit/test_conditions.py hold the two together.

`matches` runs through sentinel.rules.patterns: re.search's answer, in linear
time where RE2 can say the pattern, else time-bounded. A bounded search that
runs out of time raises PatternTimeout from `evaluate`; in a compiled
condition it is recorded in `timeouts` when the engine has set it (the event
becomes a Problem and counts as not matching), and raised otherwise.

One module: the reference evaluator and its compiled twin must be read side
by side, over the same paths, JSON values and validation.
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from sentinel.errors import SentinelError
from sentinel.rules import patterns
from sentinel.rules.patterns import PatternTimeout

OPERATORS: Final = frozenset(
    {
        "equals",
        "not_equals",
        "contains",
        "starts_with",
        "ends_with",
        "greater_than",
        "less_than",
        "in",
        "not_in",
        "matches",
    }
)
ROOT: Final = "payload"
_LEAF_KEYS: Final = frozenset({"field", "operator", "value"})
# On a missing or null field these operators are true, every other one false.
_TRUE_WHEN_MISSING: Final = frozenset({"not_equals", "not_in"})


class ConditionError(SentinelError):
    """The condition is invalid."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""What a path resolves to when the field is absent (null is returned as None)."""

Getter = Callable[[Any], Any]
Predicate = Callable[[Any], bool]

# Set by the engine around a rule: (payload, reason) of each search that ran
# out of time, so that the event can be reported and passed.
timeouts: contextvars.ContextVar[list[tuple[Any, str]] | None] = contextvars.ContextVar(
    "sentinel_condition_timeouts", default=None
)


# -- paths ------------------------------------------------------------------


def split_field(field: object) -> tuple[str, ...]:
    """The segments after the root, or ConditionError if `field` is not a payload path."""
    if not isinstance(field, str):
        raise ConditionError(f"field must be a string, not {_show(field)}")
    if field == ROOT:
        return ()
    if not field.startswith(ROOT + "."):
        raise ConditionError(f"field {field!r} must start with 'payload.'")
    return tuple(field[len(ROOT) + 1 :].split("."))


def resolve(payload: Any, segments: Sequence[str]) -> Any:
    """Follow `segments` into `payload`: the value, None for null, or MISSING."""
    node = payload
    for segment in segments:
        if isinstance(node, Mapping):
            node = node.get(segment, MISSING)
            if node is MISSING:
                return MISSING
        elif isinstance(node, list | tuple):
            # Only ASCII digits index a list; "1e3", "-1", "٣" do not.
            if not (segment.isascii() and segment.isdigit()):
                return MISSING
            index = int(segment)
            if index >= len(node):
                return MISSING
            node = node[index]
        else:
            return MISSING  # a step into a scalar or null
    return node


def compile_path(field: str) -> Getter:
    """A fast getter for one field path (MISSING when absent)."""
    segments = split_field(field)
    if len(segments) == 1:
        key = segments[0]

        def get_one(payload: Any) -> Any:
            if type(payload) is dict:
                return payload.get(key, MISSING)
            return resolve(payload, segments)

        return get_one
    if not segments:
        return lambda payload: payload
    return lambda payload: resolve(payload, segments)


# -- JSON values ------------------------------------------------------------


def is_number(value: object) -> bool:
    """A JSON number: int or float, never bool."""
    return (
        type(value) is int
        or type(value) is float
        or (isinstance(value, int | float) and not isinstance(value, bool))
    )


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values without coercion: True is not 1, "1" is not 1;
    1 equals 1.0; objects compare regardless of key order; lists in order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a):
        return is_number(b) and a == b
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if a is None:
        return b is None
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or len(a) != len(b):
            return False
        return all(k in b and json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list | tuple):
        if not isinstance(b, list | tuple) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _contains(container: Any, value: Any) -> bool:
    if isinstance(container, str):
        return isinstance(value, str) and value in container
    if isinstance(container, list | tuple):
        return any(json_equal(item, value) for item in container)
    return False


def _compare(actual: Any, value: Any, greater: bool) -> bool:
    if not (is_number(actual) and is_number(value)):
        return False
    return bool(actual > value) if greater else bool(actual < value)


# -- validation -------------------------------------------------------------


def validate(condition: Any) -> list[str]:
    """Every problem in a condition tree (empty when valid), with where it is."""
    problems: list[str] = []
    _validate(condition, "when", problems)
    return problems


def _validate(node: Any, where: str, problems: list[str]) -> None:
    if not isinstance(node, Mapping):
        problems.append(f"{where}: a condition must be a mapping, not {_show(node)}")
        return
    if not node:
        problems.append(f"{where}: empty condition")
        return
    groups = [key for key in ("all", "any") if key in node]
    if groups:
        if len(node) != 1:
            extra = ", ".join(sorted(str(k) for k in node if k != groups[0]))
            problems.append(f"{where}: '{groups[0]}' cannot be combined with {extra}")
            return
        key = groups[0]
        children = node[key]
        if not isinstance(children, list):
            problems.append(f"{where}.{key}: must be a list, not {_show(children)}")
            return
        for index, child in enumerate(children):
            _validate(child, f"{where}.{key}[{index}]", problems)
        return
    unknown = sorted(str(k) for k in node if k not in _LEAF_KEYS)
    if unknown and not (set(node) & _LEAF_KEYS):
        problems.append(f"{where}: unknown condition node with key(s) {', '.join(unknown)}")
        return
    for key in unknown:
        problems.append(f"{where}: unknown key '{key}'")
    if "field" not in node:
        problems.append(f"{where}: missing 'field'")
    else:
        try:
            split_field(node["field"])
        except ConditionError as exc:
            problems.append(f"{where}: {exc}")
    if "operator" not in node:
        problems.append(f"{where}: missing 'operator'")
        return
    operator = node["operator"]
    if not isinstance(operator, str) or operator not in OPERATORS:
        problems.append(
            f"{where}: unknown operator {_show(operator)} (one of {', '.join(sorted(OPERATORS))})"
        )
        return
    if "value" not in node:
        problems.append(f"{where}: missing 'value' for '{operator}'")
        return
    value = node["value"]
    if operator in ("in", "not_in") and not isinstance(value, list):
        problems.append(f"{where}: '{operator}' needs a list value, not {_show(value)}")
    if operator == "matches":
        if not isinstance(value, str):
            problems.append(f"{where}: 'matches' needs a string pattern, not {_show(value)}")
        else:
            try:
                re.compile(value)
            except re.error as exc:
                problems.append(f"{where}: bad regular expression {value!r}: {exc}")


def check(condition: Any) -> None:
    """Raise ConditionError listing every problem, if any."""
    problems = validate(condition)
    if problems:
        raise ConditionError("; ".join(problems))


# -- the reference ----------------------------------------------------------


def evaluate(condition: Mapping[str, Any], payload: Any) -> bool:
    """Whether `payload` satisfies `condition`. Raises ConditionError if the
    condition is invalid (the whole tree is checked, not just the branches
    that short-circuiting would reach)."""
    check(condition)
    return _evaluate(condition, payload)


def _evaluate(node: Mapping[str, Any], payload: Any) -> bool:
    if "all" in node:
        return all(_evaluate(child, payload) for child in node["all"])
    if "any" in node:
        return any(_evaluate(child, payload) for child in node["any"])
    actual = resolve(payload, split_field(node["field"]))
    return _apply(node["operator"], actual, node["value"])


def _apply(operator: str, actual: Any, value: Any) -> bool:
    if actual is MISSING or actual is None:
        return operator in _TRUE_WHEN_MISSING
    if operator == "equals":
        return json_equal(actual, value)
    if operator == "not_equals":
        return not json_equal(actual, value)
    if operator == "in":
        return any(json_equal(actual, item) for item in value)
    if operator == "not_in":
        return not any(json_equal(actual, item) for item in value)
    if operator == "contains":
        return _contains(actual, value)
    if operator == "starts_with":
        return isinstance(actual, str) and isinstance(value, str) and actual.startswith(value)
    if operator == "ends_with":
        return isinstance(actual, str) and isinstance(value, str) and actual.endswith(value)
    if operator == "greater_than":
        return _compare(actual, value, greater=True)
    if operator == "less_than":
        return _compare(actual, value, greater=False)
    if operator == "matches":
        return isinstance(actual, str) and patterns.compile_pattern(value).search(actual)
    raise ConditionError(f"unknown operator {operator!r}")  # unreachable after check()


# -- the compiled form ------------------------------------------------------


def compile_condition(condition: Any) -> Predicate:
    """A predicate equivalent to `evaluate(condition, payload)`, built once.
    Raises ConditionError for an invalid condition."""
    check(condition)
    return _compile(condition)


def _compile(node: Mapping[str, Any]) -> Predicate:
    if "all" in node or "any" in node:
        children = tuple(_compile(child) for child in node.get("all", node.get("any", [])))
        if "all" in node:
            if len(children) == 1:
                return children[0]
            return lambda payload: all(child(payload) for child in children)
        return lambda payload: any(child(payload) for child in children)
    get = compile_path(node["field"])
    if node["operator"] == "matches":
        return _compile_matches(get, node["value"])
    test = _compile_operator(node["operator"], node["value"])
    when_missing = node["operator"] in _TRUE_WHEN_MISSING

    def leaf(payload: Any) -> bool:
        actual = get(payload)
        if actual is MISSING or actual is None:
            return when_missing
        return test(actual)

    return leaf


def _compile_operator(operator: str, value: Any) -> Predicate:
    if operator in ("equals", "not_equals", "in", "not_in"):
        values = [value] if operator in ("equals", "not_equals") else list(value)
        negate = operator in ("not_equals", "not_in")
        fast = _hashable_strings(values)
        if fast is not None:
            # The common case (strings only): a set lookup, same answer as json_equal.
            if negate:
                return lambda actual: not (isinstance(actual, str) and actual in fast)
            return lambda actual: isinstance(actual, str) and actual in fast
        if negate:
            return lambda actual: not any(json_equal(actual, v) for v in values)
        return lambda actual: any(json_equal(actual, v) for v in values)
    if operator == "contains":
        return lambda actual: _contains(actual, value)
    if operator == "starts_with":
        if not isinstance(value, str):
            return lambda actual: False
        return lambda actual: isinstance(actual, str) and actual.startswith(value)
    if operator == "ends_with":
        if not isinstance(value, str):
            return lambda actual: False
        return lambda actual: isinstance(actual, str) and actual.endswith(value)
    if operator in ("greater_than", "less_than"):
        if not is_number(value) or (isinstance(value, float) and math.isnan(value)):
            return lambda actual: False
        if operator == "greater_than":
            return lambda actual: is_number(actual) and bool(actual > value)
        return lambda actual: is_number(actual) and bool(actual < value)
    raise ConditionError(f"unknown operator {operator!r}")


def _compile_matches(get: Getter, pattern: str) -> Predicate:
    safe = patterns.compile_pattern(pattern)
    search = safe.search
    if safe.linear:
        return lambda payload: isinstance(actual := get(payload), str) and search(actual)

    def bounded(payload: Any) -> bool:
        actual = get(payload)
        if not isinstance(actual, str):
            return False
        try:
            return search(actual)
        except PatternTimeout as exc:
            sink = timeouts.get()
            if sink is None:
                raise
            sink.append((payload, str(exc)))
            return False

    return bounded


def _hashable_strings(values: list[Any]) -> frozenset[str] | None:
    if all(isinstance(v, str) for v in values):
        return frozenset(values)
    return None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
