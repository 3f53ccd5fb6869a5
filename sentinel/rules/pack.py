"""Rule packs: YAML files (or a folder of them) → validated, compiled rules.

Validation reports every problem at once, each with file, rule ref and
reason, so `sentinel rules check` is one round trip. A pack keeps its YAML
texts (`documents`) so it can be stored in the database and rebuilt from
there, and a digest of the rule content that ignores layout and comments.

One module: reading the files and checking each rule feed the one list of
issues a check reports, and are read together.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from sentinel.errors import SentinelError
from sentinel.rules import template
from sentinel.rules.flood import FLOOD_REF
from sentinel.rules.kinds import KINDS
from sentinel.rules.kinds._base import Reader
from sentinel.rules.rule import SEVERITIES, Rule, glob_pattern, glob_problem, is_glob

__all__ = [
    "PackError",
    "PackIssue",
    "Rule",
    "RulePack",
    "bundled_pack_path",
    "check_path",
    "load_documents",
    "load_path",
    "warnings",
]

COMMON_KEYS: Final = frozenset(
    {
        "ref",
        "streams",
        "kinds",
        "kind",
        "severity",
        "recommendation",
        "enabled",
        "description",
        "suppresses",
    }
)
ALWAYS_SUPPLIED: Final = frozenset({"stream", "rule", "severity"})
SUFFIXES: Final = (".yaml", ".yml")


@dataclass(frozen=True)
class PackIssue:
    file: str
    ref: str | None
    reason: str

    def __str__(self) -> str:
        if self.ref is None:
            return f"{self.file}: {self.reason}"
        return f"{self.file}: {self.ref}: {self.reason}"


class PackError(SentinelError):
    """The rule pack is invalid."""

    def __init__(self, issues: list[PackIssue], message: str | None = None) -> None:
        self.issues = list(issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(message or f"the rule pack has {len(self.issues)} problem(s):\n{lines}")


@dataclass(frozen=True)
class RulePack:
    rules: tuple[Rule, ...]
    digest: str  # sha256 of the canonical rule content
    source: str
    documents: dict[str, str] = field(default_factory=dict)  # file name -> YAML text

    def rule(self, ref: str) -> Rule:
        return next(r for r in self.rules if r.ref == ref)


def bundled_pack_path() -> Path:
    """The sample plant's pack shipped inside the package."""
    return Path(str(resources.files("sentinel.sample").joinpath("plant.yaml")))


def check_path(path: str | Path) -> list[PackIssue]:
    """Every problem in the pack at `path` (a file, or a folder of *.yaml/*.yml)."""
    documents, issues = _read(Path(path))
    if issues:
        return issues
    return _build(documents, str(path))[1]


def load_path(path: str | Path) -> RulePack:
    documents, issues = _read(Path(path))
    if issues:
        raise PackError(issues)
    return load_documents(documents, source=str(path))


def load_documents(documents: Mapping[str, str], source: str) -> RulePack:
    """The same validation from stored texts (file name -> YAML)."""
    pack, issues = _build(dict(documents), source)
    if issues or pack is None:
        raise PackError(issues)
    return pack


def warnings(pack: RulePack) -> list[PackIssue]:
    """What is valid but worth a look: each `matches` pattern that cannot run
    in linear time (each search of it is time-bounded instead), and each
    `suppresses:` glob that matches no other rule of the pack."""
    from sentinel.rules import patterns

    found: list[PackIssue] = []
    refs = [r.ref for r in pack.rules]
    for rule in pack.rules:
        for glob in rule.suppresses:
            if is_glob(glob) and not any(
                glob_pattern((glob,)).match(ref) and ref != rule.ref for ref in refs
            ):
                found.append(
                    PackIssue(rule.file, rule.ref, f"suppresses {glob!r} matches no other rule")
                )
        for pattern in _patterns_in(rule.raw):
            reason = patterns.linear_reason(pattern)
            if reason is not None:
                found.append(
                    PackIssue(
                        rule.file,
                        rule.ref,
                        f"pattern {pattern!r} cannot run in linear time ({reason}); "
                        f"each search stops after {patterns.MATCH_TIMEOUT:g} s "
                        "and the event becomes a problem",
                    )
                )
    return found


def _patterns_in(node: Any) -> list[str]:
    """Every `matches` pattern in a rule's condition trees, in order."""
    if isinstance(node, Mapping):
        if node.get("operator") == "matches" and isinstance(node.get("value"), str):
            return [node["value"]]
        return [p for value in node.values() for p in _patterns_in(value)]
    if isinstance(node, list):
        return [p for item in node for p in _patterns_in(item)]
    return []


# -- reading -----------------------------------------------------------------


def _read(path: Path) -> tuple[dict[str, str], list[PackIssue]]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not files:
            return {}, [PackIssue(str(path), None, "no *.yaml or *.yml files in this folder")]
    elif path.is_file():
        files = [path]
    else:
        return {}, [PackIssue(str(path), None, "no such file or folder")]
    documents: dict[str, str] = {}
    issues: list[PackIssue] = []
    for file in files:
        try:
            documents[file.name] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(PackIssue(file.name, None, f"cannot read: {exc}"))
    return documents, issues


def _build(documents: dict[str, str], source: str) -> tuple[RulePack | None, list[PackIssue]]:
    issues: list[PackIssue] = []
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    if not documents:
        issues.append(PackIssue(source, None, "the pack holds no files"))
    for name in sorted(documents):
        for index, raw in enumerate(_rules_of(name, documents[name], issues)):
            rule = _rule(name, index, raw, issues)
            ref = raw.get("ref") if isinstance(raw, Mapping) else None
            if isinstance(ref, str):
                if ref in seen:
                    issues.append(PackIssue(name, ref, f"duplicate ref (first in {seen[ref]})"))
                    continue
                seen[ref] = name
            if rule is not None:
                rules.append(rule)
    if not issues and not rules:
        issues.append(PackIssue(source, None, "the pack holds no rules"))
    _check_suppresses(rules, issues)
    if issues:
        return None, issues
    canonical = json.dumps([r.raw for r in rules], sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return RulePack(tuple(rules), digest, source, dict(documents)), []


def _rules_of(name: str, text: str, issues: list[PackIssue]) -> list[Any]:
    try:
        data, duplicates = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        issues.append(PackIssue(name, None, f"YAML syntax error at {where}{problem}"))
        return []
    for key, line in duplicates:
        issues.append(PackIssue(name, None, f"line {line}: key '{key}' given twice"))
    if data is None:
        issues.append(PackIssue(name, None, "empty file: expected a mapping with 'rules:'"))
        return []
    if not isinstance(data, Mapping) or "rules" not in data:
        issues.append(PackIssue(name, None, "expected a mapping with a 'rules:' list"))
        return []
    for key in data:
        if key != "rules":
            issues.append(PackIssue(name, None, f"unknown top-level key '{key}'"))
    if not isinstance(data["rules"], list):
        issues.append(PackIssue(name, None, "'rules' must be a list of rules"))
        return []
    return list(data["rules"])


def _parse_yaml(text: str) -> tuple[Any, list[tuple[str, int]]]:
    """safe_load, plus the keys given twice in one mapping (PyYAML keeps the last)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        duplicates: list[tuple[str, int]] = []
        if node is not None:
            _find_duplicates(node, duplicates)
        return (loader.construct_document(node) if node is not None else None), duplicates
    finally:
        loader.dispose()


def _find_duplicates(node: yaml.Node, out: list[tuple[str, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    out.append((key.value, key.start_mark.line + 1))
                seen.add(key.value)
            _find_duplicates(value, out)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _find_duplicates(item, out)


# -- one rule ------------------------------------------------------------------


def _rule(name: str, index: int, raw: Any, issues: list[PackIssue]) -> Rule | None:
    label = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        issues.append(PackIssue(name, label, "a rule must be a mapping"))
        return None
    ref = raw.get("ref")
    before = len(issues)
    if not isinstance(ref, str) or not ref.strip() or re.search(r"\s", ref):
        issues.append(PackIssue(name, label, f"'ref' must be a name without spaces: {ref!r}"))
    else:
        label = ref

    def report(reason: str) -> None:
        issues.append(PackIssue(name, label, reason))

    kind = raw.get("kind")
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if "kind" not in raw:
        report(f"missing 'kind' (one of {', '.join(KINDS)})")
    elif spec is None:
        report(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    allowed = COMMON_KEYS | (spec.keys if spec else frozenset())
    if spec is not None:
        for key in raw:
            if key not in allowed:
                report(f"unknown key '{key}' for kind {kind}")
    streams = _globs(raw.get("streams"), report)
    kinds = _event_kinds(raw.get("kinds"), report)
    suppresses = _suppresses(raw.get("suppresses"), label, report)
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        report(
            f"missing 'severity' (one of {', '.join(SEVERITIES)})"
            if severity is None
            else f"bad severity {severity!r} (one of {', '.join(SEVERITIES)})"
        )
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        report(f"enabled must be true or false, not {enabled!r}")
    if "description" in raw and not isinstance(raw["description"], str):
        report("description must be text")
    recommendation = raw.get("recommendation")
    if not isinstance(recommendation, str) or not recommendation.strip():
        report("missing 'recommendation' (the advisory text, a template)")
        recommendation = ""
    elif spec is not None:
        _check_template(recommendation, raw, spec.supplies, report)
    params = None
    if spec is not None:
        reader = Reader(raw)
        params = spec.parse(reader)
        for reason in reader.issues:
            report(reason)
    if len(issues) > before or spec is None or params is None:
        return None
    return Rule(
        ref=label,
        kind=spec.name,
        streams=streams,
        kinds=kinds,
        severity=str(severity),
        recommendation=recommendation,
        enabled=bool(enabled),
        params=params,
        raw=json.loads(json.dumps(raw, default=str)),
        file=name,
        suppresses=suppresses,
    )


def _globs(value: Any, report: Any) -> tuple[str, ...]:
    if value is None:
        report("missing 'streams' (a glob or a list of globs over stream keys)")
        return ()
    globs = [value] if isinstance(value, str) else value
    if not isinstance(globs, list) or not globs:
        report(f"streams must be a glob or a list of globs, not {value!r}")
        return ()
    for glob in globs:
        problem = glob_problem(glob)
        if problem:
            report(f"bad glob {glob!r} in streams: {problem}")
    return tuple(g for g in globs if isinstance(g, str))


def _suppresses(value: Any, ref: str, report: Any) -> tuple[str, ...]:
    """`suppresses:` as written: a ref or glob, or a list of them (refs are
    checked against the pack once every rule is read: `_check_suppresses`)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        report(f"suppresses must be a rule ref or glob, or a list of them, not {value!r}")
        return ()
    for item in items:
        problem = glob_problem(item)
        if problem:
            report(f"bad ref or glob {item!r} in suppresses: {problem}")
        elif item == ref:
            report("suppresses names the rule itself")
    return tuple(i for i in items if isinstance(i, str) and glob_problem(i) is None)


def _check_suppresses(rules: list[Rule], issues: list[PackIssue]) -> None:
    """A ref in `suppresses:` (no glob characters) must name a rule of the pack:
    a typo would silently suppress nothing."""
    refs = {rule.ref for rule in rules} | {FLOOD_REF}
    for rule in rules:
        for item in rule.suppresses:
            if not is_glob(item) and item not in refs:
                issues.append(
                    PackIssue(rule.file, rule.ref, f"suppresses {item!r}: no rule has that ref")
                )


def _event_kinds(value: Any, report: Any) -> frozenset[str] | None:
    if value is None:
        return None
    kinds = [value] if isinstance(value, str) else value
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) and k for k in kinds):
        report(f"kinds must be an event kind or a list of them, not {value!r}")
        return None
    return frozenset(kinds)


def _check_template(
    text: str, raw: Mapping[str, Any], supplies: frozenset[str], report: Any
) -> None:
    try:
        names = template.placeholders(text)
    except ValueError as exc:
        report(f"recommendation template is malformed: {exc}")
        return
    known = ALWAYS_SUPPLIED | supplies | {str(k) for k in raw}
    for placeholder in names:
        if placeholder == "payload" or placeholder.startswith("payload."):
            continue
        if placeholder not in known:
            report(
                f"recommendation uses {{{placeholder}}}, which this {raw.get('kind')} rule "
                f"cannot supply (it can: {', '.join(sorted(known))}, payload.…)"
            )
