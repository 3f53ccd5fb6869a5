"""The `suppresses:` key of a rule: parsed and checked with the pack (every
bad value a `rules check` error naming the rule), and turned by the engine
into the suppressors of each rule the findings store asks for."""

from __future__ import annotations

import pytest

from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.flood import FLOOD_REF
from sentinel.rules.pack import PackError


def _pack(stop_suppresses: str, *, press_enabled: bool = True) -> str:
    return f"""
rules:
  - ref: line.stop
    streams: "line/*"
    kind: threshold
    field: payload.stopped
    above: 0.5
    severity: warning
    recommendation: "The line {{stream}} stopped."
{stop_suppresses}
  - ref: press.hot
    streams: "line/*"
    kind: threshold
    field: payload.t
    above: 85
    severity: critical
    recommendation: "Inspect {{stream}}."
    suppresses: press.cold
  - ref: press.cold
    streams: "line/*"
    kind: threshold
    field: payload.t
    below: 10
    severity: info
    enabled: {"true" if press_enabled else "false"}
    recommendation: "Warm {{stream}}."
"""


def _load(text: str) -> packs.RulePack:
    return packs.load_documents({"line.yaml": text}, "line")


def _problems(text: str) -> list[str]:
    with pytest.raises(PackError) as caught:
        _load(text)
    return [str(issue) for issue in caught.value.issues]


def test_suppresses_takes_refs_and_globs() -> None:
    pack = _load(_pack('    suppresses: ["press.*", "sentinel.flood"]'))
    stop = pack.rule("line.stop")
    assert stop.suppresses == ("press.*", "sentinel.flood")
    assert stop.suppresses_rule("press.hot") and stop.suppresses_rule("press.cold")
    assert stop.suppresses_rule(FLOOD_REF)
    assert not stop.suppresses_rule("line.stop") and not stop.suppresses_rule("Press.hot")
    assert pack.rule("press.hot").suppresses == ("press.cold",)  # one ref, not a list
    assert pack.rule("press.cold").suppresses == ()
    assert packs.warnings(pack) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("    suppresses: []", "suppresses must be a rule ref or glob, or a list of them"),
        ("    suppresses: {a: 1}", "suppresses must be a rule ref or glob, or a list of them"),
        ("    suppresses: [3]", "bad ref or glob 3 in suppresses: not text"),
        ('    suppresses: ["press.[ab"]', "unclosed '['"),
        ('    suppresses: [""]', "bad ref or glob '' in suppresses: empty"),
        ("    suppresses: line.stop", "suppresses names the rule itself"),
        ("    suppresses: [press.hott]", "suppresses 'press.hott': no rule has that ref"),
    ],
)
def test_a_bad_suppresses_is_an_error_naming_the_rule(value: str, problem: str) -> None:
    problems = _problems(_pack(value))
    assert len(problems) == 1 and problems[0].startswith("line.yaml: line.stop: "), problems
    assert problem in problems[0]


def test_a_glob_that_matches_no_other_rule_is_a_warning() -> None:
    pack = _load(_pack('    suppresses: ["valve.*"]'))
    [warning] = packs.warnings(pack)
    assert str(warning) == "line.yaml: line.stop: suppresses 'valve.*' matches no other rule"


def test_the_engine_knows_each_rules_suppressors_among_the_enabled_rules() -> None:
    engine = Engine(_load(_pack('    suppresses: ["press.*"]')))
    assert engine.suppressors == {
        "press.hot": ("line.stop",),
        "press.cold": ("line.stop", "press.hot"),
    }
    # a disabled rule fires nothing and suppresses nothing: its old finding
    # would never clear; findings of a disabled rule are not asked about
    disabled = Engine(_load(_pack('    suppresses: ["press.*"]', press_enabled=False)))
    assert disabled.suppressors == {"press.hot": ("line.stop",)}
    assert Engine(_load(_pack(""))).suppressors == {"press.cold": ("press.hot",)}
