"""Acknowledge or dismiss a recommendation: who, and an optional comment
(kept in its journal). `enter` writes, `escape` changes nothing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class ReviewScreen(ModalScreen[str | None]):
    """Dismissed with the comment ("" for none), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, verb: str, recommendation_id: int, actor: str) -> None:
        super().__init__()
        self.verb = verb
        self.recommendation_id = recommendation_id
        self.actor = actor

    def compose(self) -> ComposeResult:
        with Vertical(id="review", classes="dialog"):
            yield Label(
                f"{self.verb.capitalize()} recommendation {self.recommendation_id} as "
                f"{self.actor}?",
                id="question",
            )
            yield Input(placeholder="comment (optional): why, what was done", id="comment")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.verb.capitalize()} (enter)", id="yes", variant="primary")
                yield Button("Cancel (esc)", id="no")

    def on_mount(self) -> None:
        self.query_one("#comment", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.dismiss(self.query_one("#comment", Input).value.strip())
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
