"""The live dashboard of the fleet, its runs and findings (`sentinel-tui`,
started by `tui/cli.py`).

Fetches happen in thread workers (`source` is the only module that queries)
and post messages; handlers update the tables in place. When the next
refresh runs is `schedule.Schedule`'s: never two at once. A LISTEN
connection on `sentinel_run` and `sentinel_recommendation` triggers a refresh
at once. Screens ask the app for what they need by messages (`messages.py`)
and get the answer the same way.

Over 300 lines on purpose: the app's actions and handlers are the
dashboard's key map, read in one place; what could stand alone (the reads,
the schedule, the screens, the tables) does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import psycopg
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message_pump import MessagePump
from textual.widgets import ContentSwitcher, DataTable, Footer, Input, Static

from sentinel.db.connect import mask_url
from sentinel.db.listen import ListenThread
from sentinel.errors import DatabaseUnavailable
from sentinel.tui import messages
from sentinel.tui.schedule import Schedule
from sentinel.tui.screens.alarms import AlarmsScreen
from sentinel.tui.screens.confirm import ConfirmScreen
from sentinel.tui.screens.detail import DetailScreen
from sentinel.tui.screens.help import HelpScreen
from sentinel.tui.screens.review import ReviewScreen
from sentinel.tui.screens.shelve import ShelveRequest, ShelveScreen
from sentinel.tui.screens.shelves import ShelvesScreen
from sentinel.tui.source import Source
from sentinel.tui.widgets.detections import DetectionsTable
from sentinel.tui.widgets.fleet import FleetTable, Thresholds
from sentinel.tui.widgets.recommendations import RecommendationsTable
from sentinel.tui.widgets.runs import RunsTable
from sentinel.tui.widgets.streams import StreamsTable
from sentinel.tui.widgets.summary import SummaryBar
from sentinel.tui.widgets.table import LiveTable
from sentinel.types import Channel
from sentinel.views import filters
from sentinel.views.alarms import FLOOD_START, AlarmReport
from sentinel.views.statements import COUNT_CAP, View

TABLES: dict[View, type[LiveTable]] = {
    View.FLEET: FleetTable,
    View.RUNS: RunsTable,
    View.STREAMS: StreamsTable,
    View.RECOMMENDATIONS: RecommendationsTable,
    View.DETECTIONS: DetectionsTable,
}

# The flood banner's report: read this often (one scan of a day's findings),
# not at every refresh.
ALARM_SECONDS = 60.0
BANNER_SINCE = timedelta(hours=24)


class SentinelApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Sentinel"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[Any]] = [
        Binding("1", "view('fleet')", "Fleet"),
        Binding("2", "view('runs')", "Runs"),
        Binding("3", "view('streams')", "Streams"),
        Binding("4", "view('recommendations')", "Recs"),
        Binding("5", "view('detections')", "Detections"),
        Binding("6", "alarms", "Alarms"),
        Binding("7", "shelves", "Shelves"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("space", "pause", "Pause"),
        Binding("r", "refresh_now", "Refresh"),
        Binding("plus,equals_sign", "slower", "Slower", key_display="+", show=False),
        Binding("minus", "faster", "Faster", key_display="-", show=False),
        Binding("c", "drill('recommendations', 'status:open severity:critical')", "Critical"),
        Binding(
            "w", "drill('recommendations', 'status:open severity:warning')", "Warnings", show=False
        ),
        Binding("i", "drill('recommendations', 'status:open severity:info')", "Info", show=False),
        Binding("x", "drill('runs', 'status:dead')", "Dead runs", show=False),
        Binding("e", "toggle_empty", "Empty runs", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        url: str,
        *,
        readonly: bool = False,
        interval: float = 2.0,
        thresholds: Thresholds | None = None,
        now: datetime | None = None,
        listen: bool = True,
        label: str | None = None,
        actor: str | None = None,
        read_url: str | None = None,
    ) -> None:
        super().__init__()
        self.url = url  # the primary: writes and LISTEN (a replica has no NOTIFY)
        self.readonly = readonly
        self.schedule = Schedule(self._start_fetch, self.set_timer, interval=interval)
        self.thresholds = thresholds or Thresholds(10.0, 30.0)
        # Reads from the replica when there is one (actor: who writes, --by).
        self.source = Source(url, read_url=read_url, now=now, actor=actor)
        self.listen = listen
        self.label = label or mask_url(url)
        self.view = View.FLEET
        self.filters: dict[View, filters.Filter] = {v: filters.Filter() for v in View}
        self.rows: dict[View, tuple[Any, ...]] = {}
        self.totals: dict[View, tuple[int, int]] = {}  # rows the filter lets through, cap
        self.show_empty = False  # the runs view hides empty successful runs
        self.error: str | None = None
        self.refreshes = 0  # completed refreshes, for tests and the bench
        self.alarms: AlarmReport | None = None  # the banner's latest report
        self._listener: ListenThread | None = None

    # ---- layout -----------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SummaryBar(self.label, id="summary")
        yield Static(id="banner")
        yield Static(id="flood")
        yield Input(
            placeholder="stream:GLOB status: severity: worker: rule: words — ! inverts",
            id="filter",
        )
        with ContentSwitcher(initial=View.FLEET.value, id="views"):
            for view, table in TABLES.items():
                yield table(id=view.value)
        yield Static(id="viewinfo")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FleetTable).context = self.thresholds
        self.table().focus()
        self._update_info()
        self.request_refresh()
        if self.listen:
            self._listen()
        self._poll_alarms()
        self.set_interval(ALARM_SECONDS, self._poll_alarms)

    def on_unmount(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        self.source.close()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Over a detail or modal screen the dashboard's own keys are off; the
        screen's bindings (escape and q go back) come first, help and quit stay."""
        return self.screen is self.screen_stack[0] or action in ("quit", "help")

    def table(self, view: View | None = None) -> LiveTable:
        return self.query_one(f"#{(view or self.view).value}", LiveTable)

    # ---- refresh loop -------------------------------------------------------

    @property
    def interval(self) -> float:
        return self.schedule.interval

    @property
    def paused(self) -> bool:
        return self.schedule.paused

    def request_refresh(self) -> None:
        """Refresh now, or right after the refresh in flight."""
        self.schedule.request()

    def _start_fetch(self) -> None:
        self._fetch(self.view, self.filters[self.view], self.show_empty)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _fetch(self, view: View, flt: filters.Filter, show_empty: bool) -> None:
        try:
            snapshot = self.source.snapshot(view, flt, show_empty=show_empty)
        except DatabaseUnavailable as exc:
            self.post_message(messages.RefreshFailed(str(exc), unreachable=True))
        except psycopg.OperationalError as exc:
            self.post_message(messages.RefreshFailed(str(exc), unreachable=True))
        except Exception as exc:  # a refresh must never kill the dashboard
            self.post_message(
                messages.RefreshFailed(f"{type(exc).__name__}: {exc}", unreachable=False)
            )
        else:
            self.post_message(messages.Refreshed(snapshot))

    def on_refreshed(self, message: messages.Refreshed) -> None:
        snapshot = message.snapshot
        self.error = None
        self.query_one("#banner").remove_class("-visible")
        self.rows[snapshot.view] = snapshot.rows
        self.totals[snapshot.view] = (snapshot.total, snapshot.count_cap)
        self.table(snapshot.view).show(snapshot.rows, snapshot.total)
        self.query_one(SummaryBar).show(
            snapshot.summary, paused=self.paused, interval=self.interval
        )
        self._update_info()
        self.refreshes += 1
        self.schedule.done()

    def on_refresh_failed(self, message: messages.RefreshFailed) -> None:
        self.error = message.error
        banner = self.query_one("#banner", Static)
        what = "database unreachable" if message.unreachable else "refresh failed"
        banner.update(f"{what}: {_first_line(message.error)} — retrying")
        banner.add_class("-visible")
        self.schedule.done(failed=True)

    # ---- LISTEN -----------------------------------------------------------

    def _listen(self) -> None:
        """A LISTEN thread (`sentinel.db.listen`) that posts `Notified`: on each
        notification and after each (re)connect, when some may have been missed."""
        self._listener = ListenThread(
            self.url,
            self._notified,
            Channel,
            name="tui-listen",
            application_name="sentinel-tui-listen",
            max_backoff=5.0,
        )
        self._listener.start()

    def _notified(self) -> None:  # on the listen thread
        self.post_message(messages.Notified())

    def on_notified(self, message: messages.Notified) -> None:
        self.schedule.notified()

    # ---- views, filter, sort ------------------------------------------------

    def action_view(self, name: str) -> None:
        view = View(name)
        if view == self.view:
            return
        self.view = view
        self.query_one(ContentSwitcher).current = view.value
        flt = self.query_one("#filter", Input)
        flt.value = self.filters[view].text
        flt.set_class(bool(self.filters[view].text), "-visible")
        self.table().focus()
        self._update_info()
        self.request_refresh()

    def action_filter(self) -> None:
        flt = self.query_one("#filter", Input)
        flt.add_class("-visible")
        flt.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        flt = filters.parse(event.value)
        if flt.terms != self.filters[self.view].terms:
            self.filters[self.view] = flt
            self.request_refresh()  # the database filters
        else:
            self.filters[self.view] = flt
        self._update_info()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value.strip():
                event.input.remove_class("-visible")
            self.table().focus()

    def action_clear_filter(self) -> None:
        flt = self.query_one("#filter", Input)
        was = self.filters[self.view]
        flt.value = ""
        self.filters[self.view] = filters.Filter()
        flt.remove_class("-visible")
        if was:
            self.request_refresh()
        self._update_info()
        self.table().focus()

    def set_filter(self, view: View, text: str) -> None:
        """Show a view filtered by `text` (the header's drill-down keys)."""
        self.filters[view] = filters.parse(text)
        if view != self.view:
            self.action_view(view.value)
        else:
            self.request_refresh()
        flt = self.query_one("#filter", Input)
        flt.value = text
        flt.add_class("-visible")
        self.table().focus()
        self._update_info()

    def action_drill(self, view: str, text: str) -> None:
        self.set_filter(View(view), text)

    def action_toggle_empty(self) -> None:
        if self.view != View.RUNS:
            return
        self.show_empty = not self.show_empty
        self.request_refresh()
        self._update_info()

    def action_sort(self) -> None:
        self.table().cycle_sort()
        self._update_info()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self._update_info()

    def _update_info(self) -> None:
        table = self.table()
        total, cap = self.totals.get(self.view, (table.row_count, COUNT_CAP))
        if total > table.row_count:
            of = f"{total:,}+" if total >= cap else f"{total:,}"
            shown = f"showing {table.row_count:,} of {of} rows"
        else:
            shown = f"{table.row_count:,} rows"
        parts = [f"{table.TITLE}: {shown}", table.sort_label()]
        if table.sort_column is not None and total > table.row_count:
            parts[-1] += " (of those shown)"
        if self.filters[self.view]:
            parts.append(f"filter: {self.filters[self.view].text}")
        if self.view == View.RUNS and not self.show_empty:
            parts.append("empty successful runs hidden (e)")
        if self.readonly:
            parts.append("read-only")
        self.query_one("#viewinfo", Static).update(" · ".join(parts))

    # ---- live controls ------------------------------------------------------

    def action_pause(self) -> None:
        self.schedule.toggle_pause()
        self.query_one(SummaryBar).show(None, paused=self.paused, interval=self.interval)

    def action_refresh_now(self) -> None:
        self.request_refresh()

    def action_slower(self) -> None:
        self.schedule.step(+1)
        self.query_one(SummaryBar).show(None, paused=self.paused, interval=self.interval)

    def action_faster(self) -> None:
        self.schedule.step(-1)
        self.query_one(SummaryBar).show(None, paused=self.paused, interval=self.interval)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # ---- alarm-system health ------------------------------------------------

    def action_alarms(self) -> None:
        self.push_screen(AlarmsScreen())

    def _poll_alarms(self) -> None:
        self._load_alarms(BANNER_SINCE, self)

    def on_alarms_requested(self, message: messages.AlarmsRequested) -> None:
        self._load_alarms(message.since, message.reply_to)

    @work(thread=True, group="alarms", exit_on_error=False)
    def _load_alarms(self, since: timedelta, reply_to: MessagePump) -> None:
        try:
            report = self.source.alarms(since)
        except Exception as exc:
            reply_to.post_message(messages.AlarmsFailed(str(exc)))
        else:
            reply_to.post_message(messages.AlarmsLoaded(since, report))
            if reply_to is not self:  # any fresh report says whether we are in flood now
                self.post_message(messages.AlarmsLoaded(since, report))

    def on_alarms_loaded(self, message: messages.AlarmsLoaded) -> None:
        r = self.alarms = message.report
        flood = self.query_one("#flood", Static)
        if r.in_flood:
            since = r.floods[-1].start.astimezone(UTC)
            flood.update(
                f"ALARM FLOOD: {r.last_10m} findings in the last 10 minutes, in flood since "
                f"{since:%H:%M} UTC (over {FLOOD_START} in 10 min) — 6: Alarms"
            )
        flood.set_class(r.in_flood, "-visible")

    def on_alarms_failed(self, message: messages.AlarmsFailed) -> None:
        pass  # the banner keeps its last state; the refresh's banner tells of an outage

    # ---- detail and review --------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        table = event.data_table
        if not isinstance(table, LiveTable):
            return
        item = table.items.get(str(event.row_key.value))
        if isinstance(table, RunsTable) and item is not None:
            self._explain_run(item)
            return
        detection_id = getattr(item, "detection_id", None)
        if isinstance(table, DetectionsTable) and item is not None:
            detection_id = item.id
        if detection_id is not None:
            self.push_screen(DetailScreen(detection_id))

    def on_detail_requested(self, message: messages.DetailRequested) -> None:
        self._load_detail(message.detection_id, message.reply_to)

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _load_detail(self, detection_id: int, reply_to: MessagePump) -> None:
        try:
            detail, journal = self.source.finding(detection_id)
        except Exception as exc:
            reply_to.post_message(messages.DetailFailed(detection_id, str(exc)))
        else:
            reply_to.post_message(messages.DetailLoaded(detection_id, detail, journal))

    def _explain_run(self, run: Any) -> None:
        """The whole of a run's error (the table shows its start), and why it is long."""
        lines = []
        if run.long:
            usual = f"{run.usual_duration:.1f}s" if run.usual_duration is not None else "-"
            lines.append(f"running for {run.duration:.0f}s; the stream's usual pass is {usual}")
        if run.error:
            lines.append(run.error)
        if lines:
            self.notify("\n".join(lines), title=f"run {run.id}", timeout=15)

    def action_review(self, verb: str) -> None:
        item = self.table(View.RECOMMENDATIONS).cursor_item()
        if self.view != View.RECOMMENDATIONS or item is None:
            return
        self.request_review(item.id, verb)

    def on_review_requested(self, message: messages.ReviewRequested) -> None:
        self.request_review(message.recommendation_id, message.verb)

    def request_review(self, recommendation_id: int, verb: str) -> None:
        """Ask for a comment, then write the review as the dashboard's user."""
        if self._refused("acknowledging" if verb == "acknowledge" else "dismissing"):
            return
        past = "acknowledged" if verb == "acknowledge" else "dismissed"

        def write(source: Source, comment: str | None) -> str:
            review = source.acknowledge if verb == "acknowledge" else source.dismiss
            r = review(recommendation_id, comment)
            if not r.changed:
                return f"recommendation {r.id} was already {r.status}"
            return f"recommendation {r.id} {past}" + (f": {comment}" if comment else "")

        def answered(comment: str | None) -> None:
            if comment is not None:  # "" is no comment; None is cancelled
                self._write(lambda source: write(source, comment or None), recommendation_id)

        self.push_screen(ReviewScreen(verb, recommendation_id, self.source.actor), answered)

    # ---- shelving -------------------------------------------------------------

    def action_shelves(self) -> None:
        self.push_screen(ShelvesScreen())

    def on_shelves_requested(self, message: messages.ShelvesRequested) -> None:
        self._load_shelves(message.reply_to)

    @work(thread=True, group="shelves", exit_on_error=False)
    def _load_shelves(self, reply_to: MessagePump) -> None:
        try:
            found = self.source.shelves()
        except Exception as exc:
            reply_to.post_message(messages.ShelvesFailed(str(exc)))
        else:
            reply_to.post_message(messages.ShelvesLoaded(found))

    def action_shelve(self) -> None:
        item = self.table(View.RECOMMENDATIONS).cursor_item()
        if self.view == View.RECOMMENDATIONS and item is not None:
            self.request_shelve(item.stream, item.rule)

    def on_shelve_requested(self, message: messages.ShelveRequested) -> None:
        self.request_shelve(message.stream, message.rule)

    def request_shelve(self, stream: str, rule: str | None) -> None:
        """Ask for the globs (prefilled), how long and why, then shelve."""
        if self._refused("shelving"):
            return

        def write(source: Source, request: ShelveRequest) -> str:
            shelf = source.shelve(
                request.stream_glob, request.rule_glob, request.for_seconds, request.reason
            )
            return f"shelf {shelf.id}: {request.describe()}"

        def answered(request: ShelveRequest | None) -> None:
            if request is not None:
                self._write(lambda source: write(source, request))

        self.push_screen(ShelveScreen(stream, rule, self.source.actor), answered)

    def on_unshelve_requested(self, message: messages.UnshelveRequested) -> None:
        if self._refused("unshelving"):
            return
        shelf_id = message.shelf_id
        question = (
            f"Unshelve shelf {shelf_id} ({message.stream_glob}) as {self.source.actor}? "
            "Its still-active findings become unacknowledged."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._write(lambda source: f"shelf {source.unshelve(shelf_id).id} unshelved")

        self.push_screen(ConfirmScreen(question), answered)

    def _refused(self, what: str) -> bool:
        """--readonly refuses every write, saying so."""
        if self.readonly:
            self.notify(
                f"The dashboard is read-only (--readonly): {what} is off.",
                title="read-only",
                severity="warning",
            )
        return self.readonly

    @work(thread=True, group="write", exit_on_error=False)
    def _write(self, write: Callable[[Source], str], recommendation_id: int | None = None) -> None:
        try:
            said = write(self.source)
        except Exception as exc:
            self.post_message(messages.WriteFailed(str(exc)))
        else:
            self.post_message(messages.Wrote(said, recommendation_id))

    def on_wrote(self, message: messages.Wrote) -> None:
        self.notify(message.said)
        self.screen.post_message(messages.Changed(message.recommendation_id))
        self.request_refresh()

    def on_write_failed(self, message: messages.WriteFailed) -> None:
        self.notify(message.error, severity="error")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else text
