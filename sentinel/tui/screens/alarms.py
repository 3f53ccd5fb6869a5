"""`6`: alarm-system health (the report of `sentinel report alarms`): the
figures beside their EEMUA 191 / ISA-18.2 targets, the findings per 10
minutes on a time axis with the flood periods marked, then the floods,
chattering pairs, stale findings, top rules and live shelves.

It asks the app for the report by message (`AlarmsRequested`) and knows
nothing of the app; `p` changes the period, `r` reloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from sentinel import format as fmt
from sentinel.rules.durations import format_duration
from sentinel.tui import messages
from sentinel.tui.screens.detail import DetailText
from sentinel.tui.widgets import tones
from sentinel.tui.widgets.timeline import Timeline
from sentinel.views.alarms import AlarmReport, figures

# `p` cycles through these; the first is shown first (a day fits the screen
# at about one column per ten minutes).
PERIODS: tuple[tuple[str, timedelta], ...] = (
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
    ("2h", timedelta(hours=2)),
)


class AlarmsScreen(Screen[None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,q", "back", "Back"),
        Binding("p", "period", "Period"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.period = 0
        self.report: AlarmReport | None = None

    @property
    def since(self) -> timedelta:
        return PERIODS[self.period][1]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="alarms"):
            yield DetailText("loading…", id="alarms-head")
            yield Static("Findings per 10 minutes", classes="section")
            yield Timeline(id="timeline")
            yield Static("Against the targets", classes="section")
            yield DetailText(id="alarms-figures")
            yield DetailText(id="alarms-lists")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.post_message(messages.AlarmsRequested(self.since, reply_to=self))

    def action_period(self) -> None:
        self.period = (self.period + 1) % len(PERIODS)
        self.query_one("#alarms-head", DetailText).update(f"loading the last {self._label}…")
        self.action_reload()

    @property
    def _label(self) -> str:
        return PERIODS[self.period][0]

    def on_alarms_loaded(self, message: messages.AlarmsLoaded) -> None:
        if message.since != self.since:
            return  # an answer for the period before `p`
        self.report = message.report
        self.query_one("#alarms-head", DetailText).update(self._head(message.report))
        self.query_one(Timeline).show(message.report)
        self.query_one("#alarms-figures", DetailText).update(self._figures(message.report))
        self.query_one("#alarms-lists", DetailText).update(self._lists(message.report))

    def on_alarms_failed(self, message: messages.AlarmsFailed) -> None:
        self.notify(f"cannot load the alarm report: {message.error}", severity="error")

    # ---- text -------------------------------------------------------------

    def _style(self, tone: str | None) -> Any:
        return tones.style(self.query_one("#alarms-head", DetailText), tone)

    def _head(self, r: AlarmReport) -> Text:
        s = self._style
        t = Text()
        t.append("Alarm-system health", s("accent"))
        t.append(
            f"  the last {self._label}: {_at(r.start)} to {_at(r.now)} UTC, "
            f"{r.findings:,} findings (p: another period)\n",
            s("muted"),
        )
        if r.in_flood:
            t.append(
                f"IN FLOOD: {r.last_10m} findings in the last 10 minutes, since "
                f"{_at(r.floods[-1].start)} UTC",
                s("critical"),
            )
        else:
            t.append(f"not in flood: {r.last_10m} findings in the last 10 minutes", s("ok"))
        return t

    def _figures(self, r: AlarmReport) -> Text:
        s = self._style
        t = Text()
        shown = figures(r)
        width = max(len(f.label) for f in shown) + 2
        value_width = max(len(f.value) for f in shown if f.target is not None) + 2
        for f in shown:
            t.append(f.label.ljust(width))
            t.append(f.value.ljust(value_width), s("accent"))
            if f.target is not None:
                meets = f.target.meets
                t.append("ok    " if meets else "OVER  ", s("ok" if meets else "bad"))
                t.append(f.target.says, s("muted"))
            t.append("\n")
        return t

    def _lists(self, r: AlarmReport) -> Text:
        s = self._style
        t = Text()

        def section(title: str) -> None:
            t.append(f"\n{title}\n", s("accent"))

        if r.floods:
            section(f"Floods ({len(r.floods)})")
            for f in r.floods:
                end = "now" if f.ongoing else _at(f.end)
                t.append(f"  {_at(f.start)} to {end}  {format_duration(f.seconds)}  ")
                t.append(f"{f.findings} findings, peak {f.peak} in 10 min\n", s("bad"))
        if r.chattering:
            section(f"Chattering: 3 or more within a minute ({r.chattering_total} pairs)")
            for c in r.chattering:
                t.append(f"  {c.rule}  on {c.stream}  ")
                t.append(f"{c.findings} findings, {c.peak_per_minute} in a minute\n", s("warn"))
        if r.stale:
            section(f"Stale: active and unacknowledged over 24 h ({r.stale_total})")
            for st in r.stale:
                t.append(f"  {st.recommendation_id}  {st.severity}  {st.rule}  on {st.stream}  ")
                t.append(f"for {fmt.age(st.age)}\n", s("warn"))
        if r.top_rules:
            section("Top rules")
            for rule in r.top_rules:
                t.append(f"  {rule.percent:5.1f} %  {rule.findings:>6}  {rule.rule}\n")
        if r.shelves:
            section(f"Live shelves ({r.shelves_total}, 7 for the Shelves view)")
            for sh in r.shelves:
                t.append(f"  {sh.id}  {sh.stream_glob}  {sh.rule_glob or '*'}  ")
                t.append(
                    f"for {format_duration(sh.age)}, {format_duration(sh.expires_in)} left  "
                    f"by {sh.actor}: {fmt.one_line(sh.reason, 60)}\n",
                    s("muted"),
                )
        return t


def _at(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%m-%d %H:%M")
