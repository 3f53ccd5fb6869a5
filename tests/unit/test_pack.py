"""Rule packs: loading, validation that reports everything at once, digests,
durations and templates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sentinel.rules import pack as packs
from sentinel.rules import template
from sentinel.rules.durations import parse_duration
from sentinel.rules.pack import PackError, PackIssue

SAMPLE = Path(packs.bundled_pack_path())
BROKEN = SAMPLE.parent / "broken.yaml"

MINIMAL = """
rules:
  - ref: t.hot
    streams: "plant-a/*"
    kind: threshold
    field: payload.t
    above: 10
    severity: info
    recommendation: "Check {stream}: {value} over {above}."
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_pack_loads_with_every_kind() -> None:
    pack = packs.load_path(packs.bundled_pack_path())
    assert len(pack.rules) >= 20
    assert {r.kind for r in pack.rules} == {
        "condition",
        "threshold",
        "spc",
        "rate",
        "flatline",
        "silence",
        "count",
        "run",
    }
    assert {r.severity for r in pack.rules} == {"info", "warning", "critical"}
    assert packs.check_path(SAMPLE) == []
    assert pack.documents == {"plant.yaml": SAMPLE.read_text()}


def test_bundled_pack_uses_every_condition_operator() -> None:
    from sentinel.rules.conditions import OPERATORS

    text = SAMPLE.read_text()
    assert all(f"operator: {op}," in text for op in OPERATORS)


def test_broken_pack_reports_every_error_with_file_ref_and_reason() -> None:
    issues = packs.check_path(BROKEN)
    shown = [str(i) for i in issues]
    expected = [
        ("press.mystery", "unknown kind 'histogram'"),
        ("ci.bad_operator", "unknown operator 'is'"),
        ("ci.bad_regex", "bad regular expression"),
        ("press.overtemp", "clear_below (90) must be below above (85)"),
        ("press.overtemp", "duplicate ref"),
        ("oven.template", "{operator_name}"),
        ("oven.bad_duration", "bad glob"),
        ("oven.bad_duration", "bad severity 'urgent'"),
        ("oven.bad_duration", "bad duration '10 minutes'"),
    ]
    for ref, reason in expected:
        assert any(i.ref == ref and reason in i.reason for i in issues), (ref, reason, shown)
    assert all(i.file == "broken.yaml" for i in issues)
    assert len(issues) == len(expected)
    with pytest.raises(PackError) as caught:
        packs.load_path(BROKEN)
    assert caught.value.issues == issues
    assert "clear_below (90) must be below above (85)" in str(caught.value)


def test_pack_issue_renders_file_ref_reason() -> None:
    issue = PackIssue("plant.yaml", "press.overtemp", "clear_below (90) must be below above (85)")
    assert str(issue) == "plant.yaml: press.overtemp: clear_below (90) must be below above (85)"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "rules:\n  - ref: a\n    streams: [unclosed\n")
    (issue,) = packs.check_path(path)
    assert issue.file == "bad.yaml" and "line" in issue.reason and "YAML" in issue.reason


def test_missing_and_unknown_keys_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        """
rules:
  - ref: a.rule
    kind: threshold
    field: payload.x
    abve: 3
    severity: warning
    recommendation: "x"
""",
    )
    reasons = [i.reason for i in packs.check_path(path)]
    assert any("unknown key 'abve'" in r for r in reasons)
    assert any("missing 'streams'" in r for r in reasons)
    assert any("needs 'above' and/or 'below'" in r for r in reasons)


def test_duplicate_refs_across_files_name_both(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", MINIMAL)
    write(tmp_path, "b.yml", MINIMAL)
    (issue,) = packs.check_path(tmp_path)
    assert (issue.file, issue.ref) == ("b.yml", "t.hot")
    assert "a.yaml" in issue.reason


def test_kind_specific_validation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "k.yaml",
        """
rules:
  - {ref: s1, streams: x, kind: spc, field: payload.v, rules: [WE9], severity: info,
     recommendation: "{z}"}
  - {ref: s2, streams: x, kind: spc, field: payload.v, mean: 1, severity: info,
     recommendation: "r"}
  - {ref: r1, streams: x, kind: rate, field: payload.v, window: 5m, severity: info,
     recommendation: "r"}
  - {ref: f1, streams: x, kind: flatline, field: payload.v, severity: info, recommendation: "r"}
  - {ref: c1, streams: x, kind: count, when: {all: []}, within: 1m, severity: info,
     recommendation: "{value}"}
  - {ref: t1, streams: x, kind: threshold, field: v, below: 3, clear_above: 1, severity: info,
     recommendation: "r"}
  - {ref: q1, streams: x, kind: silence, for: 0s, severity: info, recommendation: "r"}
""",
    )
    by_ref: dict[str | None, list[str]] = {}
    for issue in packs.check_path(path):
        by_ref.setdefault(issue.ref, []).append(issue.reason)
    assert any("WE9" in r for r in by_ref["s1"])
    assert any("'mean' and 'sigma' go together" in r for r in by_ref["s2"])
    assert any("max_rise" in r for r in by_ref["r1"])
    assert any("exactly one of 'for'" in r for r in by_ref["f1"])
    assert any("missing 'count'" in r for r in by_ref["c1"])
    assert any("{value}" in r for r in by_ref["c1"])  # a count rule has no value
    assert any("must start with 'payload.'" in r for r in by_ref["t1"])
    assert any("clear_above (1) must be above below (3)" in r for r in by_ref["t1"])
    assert any("longer than 0" in r for r in by_ref["q1"])


def test_digest_is_stable_across_layout_and_comments(tmp_path: Path) -> None:
    a = packs.load_path(write(tmp_path, "a.yaml", MINIMAL))
    relaid = (
        "# a comment\nrules:\n- {ref: t.hot, streams: 'plant-a/*', kind: threshold,\n"
        "   field: payload.t, above: 10, severity: info,\n"
        "   recommendation: 'Check {stream}: {value} over {above}.'}\n"
    )
    b = packs.load_path(write(tmp_path, "b.yaml", relaid))
    c = packs.load_path(write(tmp_path, "c.yaml", MINIMAL.replace("above: 10", "above: 11")))
    assert a.digest == b.digest != c.digest


def test_load_documents_round_trips_a_stored_pack() -> None:
    pack = packs.load_path(SAMPLE)
    again = packs.load_documents(pack.documents, source="db")
    assert again.digest == pack.digest
    assert [r.ref for r in again.rules] == [r.ref for r in pack.rules]
    with pytest.raises(PackError):
        packs.load_documents({"x.yaml": "rules: []"}, source="db")


def test_globs_use_fnmatch_semantics_where_star_crosses_slashes() -> None:
    pack = packs.load_path(SAMPLE)
    overtemp = pack.rule("press.overtemp")
    assert overtemp.applies_to("plant-a/line-1/press-3")
    assert overtemp.applies_to("plant-a/line-9/sub/press-3")  # `*` crosses "/"
    assert not overtemp.applies_to("plant-b/line-1/press-3")
    assert not overtemp.applies_to("plant-a/line-1/oven-1")


def test_missing_path_and_empty_folder_are_issues(tmp_path: Path) -> None:
    assert "no such file" in packs.check_path(tmp_path / "nope.yaml")[0].reason
    assert "no *.yaml" in packs.check_path(tmp_path)[0].reason


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        (45, 45),
        (1.5, 1.5),
        ("30", 30),
        (" 2M ", 120),
    ],
)
def test_parse_duration_accepts_units_and_plain_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "m", "-5s", "5x", True, None, "1.2.3s"])
def test_parse_duration_rejects_with_clear_text(text: object) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)  # type: ignore[arg-type]


def test_template_renders_placeholders_and_never_raises() -> None:
    text = "On {stream}: {value:.1f} ({payload.a.0}) {payload.nope} {missing} {{literal}}"
    out = template.render(text, {"stream": "s", "value": 3.14159}, {"a": ["x"]})
    assert out == "On s: 3.1 (x) ? ? {literal}"
    assert template.placeholders(text) == [
        "stream",
        "value",
        "payload.a.0",
        "payload.nope",
        "missing",
    ]
    with pytest.raises(ValueError):
        template.placeholders("unbalanced {")
