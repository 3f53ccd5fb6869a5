"""Stream announcements: payloads under NOTIFY's limit that read back as the
keys they were made of, and anything else read as "look at every stream"."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from sentinel.db import announce


@given(st.lists(st.text(min_size=1, max_size=300), max_size=200), st.integers(20, 8000))
def test_payloads_fit_the_limit_and_read_back_as_their_keys(keys: list[str], limit: int) -> None:
    payloads = announce.payloads(keys, limit)
    assert all(len(p.encode()) <= limit for p in payloads)
    read = [k for p in payloads for k in (announce.keys(p) or [])]
    fitting = [k for k in keys if len(orjson.dumps(k)) + 2 <= limit]
    assert read == fitting


def test_many_keys_are_split_and_none_is_lost() -> None:
    keys = [f"plant-a/line-{i}/press-{i}" for i in range(2000)]
    payloads = announce.payloads(keys)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= announce.MAX_PAYLOAD_BYTES for p in payloads)
    assert [k for p in payloads for k in announce.keys(p) or []] == keys


def test_a_key_too_long_for_any_payload_is_left_to_the_sweep() -> None:
    assert announce.payloads(["x" * 9000, "ok"]) == ['["ok"]']
    assert announce.payloads([]) == []


def test_what_names_no_stream_asks_to_look_at_every_stream() -> None:
    for payload in ("", "[]", "not json", '{"a": 1}', "[1, 2]", '"plant"'):
        assert announce.keys(payload) is None
    assert announce.keys('["a/b", "c"]') == ["a/b", "c"]
