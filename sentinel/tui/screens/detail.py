"""A detection with its evidence, a chart of the triggering window and its
journal (every change of its state: when, who, from, to, why).

It asks the app for the detection, for reviews and for a shelf by messages
(`DetailRequested`, `ReviewRequested`, `ShelveRequested`) and reloads on
`Changed`; it knows nothing of the app."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from sentinel import format as fmt
from sentinel.rules import evidence as kinds
from sentinel.tui import messages
from sentinel.tui.widgets import tones
from sentinel.tui.widgets.chart import Chart
from sentinel.views.evidence import charted
from sentinel.views.rows import Detail, JournalRow


class DetailText(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = set(tones.COMPONENT_CLASSES)


class DetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "back", "Back"),
        Binding("a", "review('acknowledge')", "Ack"),
        Binding("d", "review('dismiss')", "Dismiss"),
        Binding("S", "shelve", "Shelve"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, detection_id: int) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.detail: Detail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield DetailText("loading…", id="detail-head")
            yield Static("Triggering window", classes="section", id="chart-title")
            yield Chart(id="chart")
            yield Static("Evidence", classes="section")
            yield DetailText(id="evidence")
            yield Static("History", classes="section")
            yield DetailText(id="journal")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.post_message(messages.DetailRequested(self.detection_id, reply_to=self))

    def on_changed(self, message: messages.Changed) -> None:
        if self.detail is not None and self.detail.recommendation_id == message.recommendation_id:
            self.action_reload()

    def on_detail_loaded(self, message: messages.DetailLoaded) -> None:
        if message.detection_id != self.detection_id:
            return
        head = self.query_one("#detail-head", DetailText)
        if message.detail is None:
            head.update(f"detection {message.detection_id} no longer exists")
            return
        self.detail = message.detail
        head.update(self._head(message.detail))
        # A condition or count finding has no series: its trigger event's
        # payload (under Evidence) is the picture, not an empty chart.
        charted = bool(message.detail.points)
        self.query_one("#chart-title").display = charted
        self.query_one("#chart", Chart).display = charted
        self.query_one("#chart", Chart).show(message.detail)
        self.query_one("#evidence", DetailText).update(self._evidence(message.detail))
        self.query_one("#journal", DetailText).update(self._journal(message.journal))

    def on_detail_failed(self, message: messages.DetailFailed) -> None:
        self.notify(f"cannot load detection: {message.error}", severity="error")

    def action_review(self, verb: str) -> None:
        if self.detail is None or self.detail.recommendation_id is None:
            self.notify("this detection has no recommendation", severity="warning")
            return
        self.post_message(messages.ReviewRequested(self.detail.recommendation_id, verb))

    def action_shelve(self) -> None:
        if self.detail is not None:
            self.post_message(messages.ShelveRequested(self.detail.stream, self.detail.rule))

    # ---- text -------------------------------------------------------------

    def _style(self, tone: str | None) -> Any:
        return tones.style(self.query_one("#detail-head", DetailText), tone)

    def _head(self, d: Detail) -> Text:
        s = self._style
        t = Text()
        t.append(f" {d.severity.upper()} ", s(tones.SEVERITY_TONE.get(d.severity)))
        t.append(f" {d.rule}", s("accent"))
        t.append(f"  on {d.stream}  ({d.kind}, detection {d.id}")
        t.append(f", run {d.run_id})\n" if d.run_id is not None else ")\n")
        t.append(f"{d.summary}\n")
        t.append(f"first seen {d.first_seen:%Y-%m-%d %H:%M:%S}, ", s("muted"))
        t.append(f"last seen {d.last_seen:%Y-%m-%d %H:%M:%S}\n", s("muted"))
        if d.recommendation_id is not None:
            t.append(f"\nRecommendation {d.recommendation_id} ")
            t.append(
                f"[{d.recommendation_state or d.recommendation_status}]",
                s("warn" if d.recommendation_status == "open" else "muted"),
            )
            t.append(f"  {fmt.age(d.recommendation_age)} ago\n", s("muted"))
            t.append(d.recommendation_text or "")
        return t

    def _evidence(self, d: Detail) -> Text:
        s = self._style
        t = Text()
        if d.baseline:
            b = d.baseline
            t.append("baseline  ", s("accent"))
            t.append(
                f"mean {_num(b.get('mean'))}  sigma {_num(b.get('sigma'))}  n {b.get('n', '-')}\n"
            )
        if d.window:
            t.append("window    ", s("accent"))
            shown = {k: v for k, v in d.window.items() if k != "points"}
            t.append(_compact(shown) + "\n")
        triggering = [p for p in d.points if p.triggering]
        leading = len(d.points) - len(triggering)
        if leading:
            t.append("readings  ", s("accent"))
            t.append(f"{leading} around the detection, charted above\n")
        if triggering:
            t.append(f"triggering points ({len(triggering)})\n", s("accent"))
            for p in triggering[:50]:
                z = f"  z {p.z:+.2f}" if p.z is not None else ""
                event = f"  event {p.event_id}" if p.event_id is not None else ""
                t.append(f"  {p.occurred_at or '-'}  {p.value:g}{z}{event}\n", s("bad"))
        for e in d.evidence:  # trigger events without a value to chart: their payload
            if kinds.shown(e.kind) is kinds.Shown.TRIGGERING and not charted(e):
                event_id = e.event_id
                if event_id is None and isinstance(e.data, dict):
                    event_id = e.data.get("event_id")
                t.append("trigger event", s("accent"))
                t.append(f" {event_id}\n" if event_id is not None else "\n")
                data = e.data
                if isinstance(data, dict) and "payload" in data:
                    data = data["payload"]
                t.append(f"  {_compact(data)}\n")
        if d.rule_as_was:
            t.append("rule as it was\n", s("accent"))
            for key, value in d.rule_as_was.items():
                t.append(f"  {key}: {_compact(value)}\n")
        for e in (e for e in d.evidence if kinds.shown(e.kind) is kinds.Shown.DATA):
            t.append(f"{e.kind}  ", s("accent"))
            t.append(_compact(e.data) + "\n")
        if not d.evidence:
            t.append("no evidence recorded", s("muted"))
        return t

    def _journal(self, journal: tuple[JournalRow, ...]) -> Text:
        s = self._style
        t = Text()
        if not journal:
            t.append("no journal rows", s("muted"))
        for row in journal:
            t.append(f"{row.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}  ", s("muted"))
            t.append(f"{row.actor}  ", s("accent"))
            t.append(f"{row.from_state or 'opened'} → {row.to_state}")
            if row.comment:
                t.append(f"  {row.comment}", s("info"))
            t.append("\n")
        return t


def _num(value: Any) -> str:
    return (
        f"{value:.4g}"
        if isinstance(value, int | float)
        else str(value if value is not None else "-")
    )


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)
