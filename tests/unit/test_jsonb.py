"""The fast JSONB decoder reads every document exactly as `json` does."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from sentinel.db.jsonb import dumps, loads

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits orjson alone would give floats
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _typed(value: object) -> str:
    """A rendering that tells 1 from 1.0 and True from 1."""
    return json.dumps(value, sort_keys=True)


@given(DOCUMENTS)
def test_reads_what_json_reads(document: object) -> None:
    encoded = json.dumps(document).encode()
    assert _typed(loads(encoded)) == _typed(json.loads(encoded))
    assert _typed(loads(memoryview(encoded))) == _typed(json.loads(encoded))


def test_numbers_orjson_alone_gets_wrong() -> None:
    assert loads(b"123456789012345678901234567890") == 123456789012345678901234567890
    assert loads(b'{"n": -9223372036854775809}') == {"n": -9223372036854775809}
    assert loads(b"1e400") == float("inf")  # orjson refuses it; json reads infinity
    assert loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}


@given(DOCUMENTS)
def test_writes_what_json_reads_back_the_same(document: object) -> None:
    assert _typed(json.loads(dumps(document))) == _typed(document)
