"""Shelve from a finding: its stream and rule prefilled (edit them into globs
to shelve more), how long and why. New findings the shelf matches are still
written, but enter shelved (`sentinel shelve`). `enter` shelves once the
duration reads and a reason is given, `escape` changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from sentinel.rules.durations import format_duration, parse_duration
from sentinel.rules.rule import glob_problem

DEFAULT_FOR = "4h"


@dataclass(frozen=True)
class ShelveRequest:
    stream_glob: str
    rule_glob: str | None  # None: every rule
    for_seconds: float
    reason: str

    def describe(self) -> str:
        rule = f" rule {self.rule_glob}" if self.rule_glob else ""
        return f"{self.stream_glob}{rule} for {format_duration(self.for_seconds)}"


class ShelveScreen(ModalScreen[ShelveRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, stream: str, rule: str | None, actor: str) -> None:
        super().__init__()
        self.stream = stream
        self.rule = rule
        self.actor = actor

    def compose(self) -> ComposeResult:
        with Vertical(id="shelve", classes="dialog"):
            yield Label(f"Shelve new findings, as {self.actor}", id="question")
            yield Label("streams (a glob)")
            yield Input(self.stream, id="stream")
            yield Label("rules (a glob; empty: every rule)")
            yield Input(self.rule or "", id="rule")
            yield Label("for (90s, 30m, 4h, 1d)")
            yield Input(DEFAULT_FOR, id="for")
            yield Label("reason (required)")
            yield Input(placeholder="why: what is known, what is being done", id="reason")
            yield Label("", id="shelve-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Shelve (enter)", id="yes", variant="primary")
                yield Button("Cancel (esc)", id="no")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        """Shelve, or say what is wrong and stay (the shelf store checks again)."""
        value = {
            name: self.query_one(f"#{name}", Input).value.strip()
            for name in ("stream", "rule", "for", "reason")
        }
        problem, field = None, "reason"
        for name, label in (("stream", "streams"), ("rule", "rules")):
            bad = glob_problem(value[name]) if value[name] or name == "stream" else None
            if bad:
                problem, field = f"{label}: bad glob: {bad}", name
                break
        seconds = 0.0
        if problem is None:
            try:
                seconds = parse_duration(value["for"]).total_seconds()
            except ValueError as exc:
                problem, field = f"for: {exc}", "for"
            else:
                if seconds <= 0:
                    problem, field = "for: must be longer than 0", "for"
        if problem is None and not value["reason"]:
            problem = "a shelf needs a reason"
        if problem is not None:
            self.query_one("#shelve-error", Label).update(problem)
            self.query_one(f"#{field}", Input).focus()
            return
        self.dismiss(
            ShelveRequest(value["stream"], value["rule"] or None, seconds, value["reason"])
        )
