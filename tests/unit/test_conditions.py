"""Condition semantics (DESIGN.md): the reference `evaluate`, its validation,
and the compiled form that must agree with it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.rules import conditions
from sentinel.rules.conditions import ConditionError, compile_condition, evaluate, validate

PAYLOAD: dict[str, Any] = {
    "a": {"b": 5, "0": "zero-key"},
    "items": [{"name": "first"}, {"name": "second"}],
    "n": 1,
    "f": 2.5,
    "flag": True,
    "s": "Hello World",
    "tags": ["x", "y", 1],
    "nothing": None,
    "obj": {"k1": 1, "k2": [1, 2]},
}


def leaf(field: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


CASES: list[tuple[str, dict[str, Any], Any, bool]] = [
    # 1. root: `payload.` names the payload itself
    ("root names payload", leaf("payload.n", "equals", 1), PAYLOAD, True),
    ("bare root is the payload", leaf("payload", "equals", {"x": 1}), {"x": 1}, True),
    ("payload list root", leaf("payload.1", "equals", "b"), ["a", "b"], True),
    # 2. paths
    ("nested keys", leaf("payload.a.b", "equals", 5), PAYLOAD, True),
    ("digits on an object are a key", leaf("payload.a.0", "equals", "zero-key"), PAYLOAD, True),
    ("digits on a list index", leaf("payload.items.1.name", "equals", "second"), PAYLOAD, True),
    ("index past the end is missing", leaf("payload.items.5.name", "equals", "x"), PAYLOAD, False),
    ("non-digit on a list is missing", leaf("payload.items.name", "equals", "x"), PAYLOAD, False),
    ("negative index is missing", leaf("payload.items.-1.name", "not_equals", 1), PAYLOAD, True),
    ("step into scalar is missing", leaf("payload.n.x", "equals", 1), PAYLOAD, False),
    ("step into null is missing", leaf("payload.nothing.x", "not_in", [1]), PAYLOAD, True),
    # 3. missing or null: false except not_equals / not_in
    ("missing equals", leaf("payload.zz", "equals", None), PAYLOAD, False),
    ("null equals null is false", leaf("payload.nothing", "equals", None), PAYLOAD, False),
    ("missing not_equals", leaf("payload.zz", "not_equals", 1), PAYLOAD, True),
    ("missing not_in", leaf("payload.zz", "not_in", [1]), PAYLOAD, True),
    ("null not_equals", leaf("payload.nothing", "not_equals", 1), PAYLOAD, True),
    ("missing contains", leaf("payload.zz", "contains", "a"), PAYLOAD, False),
    ("missing in", leaf("payload.zz", "in", [None]), PAYLOAD, False),
    ("missing greater_than", leaf("payload.zz", "greater_than", 0), PAYLOAD, False),
    ("missing matches", leaf("payload.zz", "matches", ".*"), PAYLOAD, False),
    ("missing starts_with", leaf("payload.zz", "starts_with", ""), PAYLOAD, False),
    ("scalar payload paths are missing", leaf("payload.a", "equals", 1), 7, False),
    # 4. no coercion
    ("string 1 is not 1", leaf("payload.n", "equals", "1"), PAYLOAD, False),
    ("True is not 1", leaf("payload.flag", "equals", 1), PAYLOAD, False),
    ("1 is not True", leaf("payload.n", "equals", True), PAYLOAD, False),
    ("True equals True", leaf("payload.flag", "equals", True), PAYLOAD, True),
    ("1 equals 1.0", leaf("payload.n", "equals", 1.0), PAYLOAD, True),
    ("True not in [1]", leaf("payload.flag", "in", [1, 0]), PAYLOAD, False),
    ("1 not_in [True]", leaf("payload.n", "not_in", [True]), PAYLOAD, True),
    ("bool is not a number", leaf("payload.flag", "greater_than", 0), PAYLOAD, False),
    ("string is not a number", leaf("payload.s", "less_than", 5), PAYLOAD, False),
    ("starts_with on a number", leaf("payload.n", "starts_with", "1"), PAYLOAD, False),
    (
        "objects regardless of key order",
        leaf("payload.obj", "equals", {"k2": [1, 2], "k1": 1}),
        PAYLOAD,
        True,
    ),
    ("lists in order", leaf("payload.obj.k2", "equals", [2, 1]), PAYLOAD, False),
    ("object in list", leaf("payload.obj", "in", [{"k1": 1, "k2": [1, 2]}]), PAYLOAD, True),
    (
        "nested no coercion",
        leaf("payload.obj", "equals", {"k1": True, "k2": [1, 2]}),
        PAYLOAD,
        False,
    ),
    # numbers
    ("greater_than", leaf("payload.f", "greater_than", 2), PAYLOAD, True),
    ("greater_than equal is false", leaf("payload.f", "greater_than", 2.5), PAYLOAD, False),
    ("less_than", leaf("payload.n", "less_than", 1.5), PAYLOAD, True),
    ("non-number value compares false", leaf("payload.n", "less_than", "5"), PAYLOAD, False),
    # 5. contains
    ("contains substring", leaf("payload.s", "contains", "lo W"), PAYLOAD, True),
    ("contains is case sensitive", leaf("payload.s", "contains", "hello"), PAYLOAD, False),
    ("contains list membership", leaf("payload.tags", "contains", "y"), PAYLOAD, True),
    ("list membership no coercion", leaf("payload.tags", "contains", True), PAYLOAD, False),
    ("list membership number", leaf("payload.tags", "contains", 1.0), PAYLOAD, True),
    ("contains on a number", leaf("payload.n", "contains", 1), PAYLOAD, False),
    ("contains non-string in string", leaf("payload.s", "contains", 1), PAYLOAD, False),
    ("starts_with", leaf("payload.s", "starts_with", "Hell"), PAYLOAD, True),
    ("ends_with", leaf("payload.s", "ends_with", "World"), PAYLOAD, True),
    # 6. matches
    ("matches is unanchored", leaf("payload.s", "matches", "o W"), PAYLOAD, True),
    ("matches anchors", leaf("payload.s", "matches", "^World"), PAYLOAD, False),
    ("matches ignore case", leaf("payload.s", "matches", "(?i)^hello"), PAYLOAD, True),
    ("matches on non-string", leaf("payload.n", "matches", "1"), PAYLOAD, False),
    # 7. all / any
    ("all empty is true", {"all": []}, PAYLOAD, True),
    ("any empty is false", {"any": []}, PAYLOAD, False),
    (
        "nested",
        {
            "all": [
                {"any": [leaf("payload.n", "equals", 2), leaf("payload.n", "equals", 1)]},
                {"all": [leaf("payload.flag", "equals", True)]},
            ]
        },
        PAYLOAD,
        True,
    ),
    ("in", leaf("payload.s", "in", ["a", "Hello World"]), PAYLOAD, True),
    ("not_in", leaf("payload.s", "not_in", ["a", "Hello World"]), PAYLOAD, False),
]


@pytest.mark.parametrize(
    ("name", "condition", "payload", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_evaluate_follows_design_semantics(
    name: str, condition: dict[str, Any], payload: Any, expected: bool
) -> None:
    assert evaluate(condition, payload) is expected
    assert compile_condition(condition)(payload) is expected


INVALID: list[tuple[str, Any]] = [
    ("unknown operator", leaf("payload.a", "bigger", 1)),
    ("missing field", {"operator": "equals", "value": 1}),
    ("missing operator", {"field": "payload.a", "value": 1}),
    ("empty node", {}),
    ("unknown node", {"either": []}),
    ("all not a list", {"all": {"field": "payload.a"}}),
    ("any not a list", {"any": "x"}),
    ("in value not a list", leaf("payload.a", "in", "abc")),
    ("not_in value not a list", leaf("payload.a", "not_in", 3)),
    ("bad regex", leaf("payload.a", "matches", "(unclosed")),
    ("non-string regex", leaf("payload.a", "matches", 5)),
    ("field not rooted at payload", leaf("event.a", "equals", 1)),
    ("node is not a mapping", ["field"]),
    ("invalid deep inside a short-circuited branch", {"any": [{"all": []}, {"bogus": 1}]}),
    ("all mixed with a leaf", {"all": [], "field": "payload.a"}),
    ("missing value", {"field": "payload.a", "operator": "equals"}),
]


@pytest.mark.parametrize(("name", "condition"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_conditions_raise(name: str, condition: Any) -> None:
    with pytest.raises(ConditionError):
        evaluate(condition, PAYLOAD)
    with pytest.raises(ConditionError):
        compile_condition(condition)
    assert validate(condition)


def test_validate_reports_every_problem_with_where() -> None:
    problems = validate(
        {"all": [leaf("payload.a", "bogus", 1), leaf("payload.a", "matches", "("), {}]}
    )
    assert len(problems) == 3
    assert problems[0].startswith("when.all[0]: unknown operator")
    assert "bad regular expression" in problems[1]
    assert problems[2] == "when.all[2]: empty condition"


def test_condition_error_is_a_sentinel_error() -> None:
    from sentinel.errors import SentinelError

    assert issubclass(ConditionError, SentinelError)
    assert str(ConditionError()) == "The condition is invalid."


# -- properties -----------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-5, 5, allow_nan=False)
    | st.sampled_from(["", "a", "ab", "1", "b", "A"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "0", "1"]), inner, max_size=3)
    ),
    max_leaves=8,
)
fields = st.lists(st.sampled_from(["a", "b", "0", "1", "x"]), max_size=3).map(
    lambda parts: ".".join(["payload", *parts])
)


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(sorted(conditions.OPERATORS)))
    if operator in ("in", "not_in"):
        value: Any = draw(st.lists(json_values, max_size=3))
    elif operator == "matches":
        value = draw(st.sampled_from(["a", "^a", "b$", "(?i)A", "[0-9]", ""]))
    else:
        value = draw(json_values)
    return {"field": draw(fields), "operator": operator, "value": value}


trees = st.recursive(
    leaves(),
    lambda inner: (
        st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3))
        | st.builds(lambda xs: {"any": xs}, st.lists(inner, max_size=3))
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(trees, json_values)
def test_evaluate_never_raises_on_valid_conditions(condition: Any, payload: Any) -> None:
    assert validate(condition) == []
    assert isinstance(evaluate(condition, payload), bool)


@settings(max_examples=400, deadline=None)
@given(trees, json_values)
def test_compiled_condition_agrees_with_evaluate(condition: Any, payload: Any) -> None:
    assert compile_condition(condition)(payload) == evaluate(condition, payload)


@settings(max_examples=300, deadline=None)
@given(fields, json_values, json_values, json_values)
def test_de_morgan_holds_for_equals_and_not_equals(
    field: str, a: Any, b: Any, payload: Any
) -> None:
    # Holds on missing/null fields too: equals is false there and not_equals true.
    lhs = not evaluate({"any": [leaf(field, "equals", a), leaf(field, "equals", b)]}, payload)
    rhs = evaluate({"all": [leaf(field, "not_equals", a), leaf(field, "not_equals", b)]}, payload)
    assert lhs == rhs
