"""`?`: the keys, the filter syntax, the colours."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from sentinel.views import statements
from sentinel.views.alarms import FLOOD_END, FLOOD_START

HELP = f"""\
# Sentinel dashboard

| key | does |
|---|---|
| `1`…`5` | Fleet, Runs, Streams, Recommendations, Detections |
| `6` | Alarms: alarm-system health, floods on a time axis (`p`: another period) |
| `7` | Shelves: the live ones (`u` unshelves, after a confirmation) |
| `/` | filter the view, in the database (`enter` keeps it, `escape` clears it) |
| `c` `w` `i` | open critical / warning / info recommendations |
| `x` | dead runs |
| `e` | runs: show or hide empty successful runs |
| `s` / click a header | sort: cycle columns / by that column (again: reverse) |
| `space` | pause or resume the live refresh |
| `r` | refresh now |
| `+` / `-` | refresh less / more often |
| `enter` | a recommendation's or detection's evidence, chart and history |
| `a` / `d` | acknowledge / dismiss the recommendation (asks for a comment; `escape` cancels) |
| `S` | shelve what its stream and rule match (asks for the globs, how long and why) |
| `escape` | back |
| `q` | quit (on this or the detail screen: back) |

**Filter**: `stream:GLOB` `worker:GLOB` `rule:GLOB` `status:S` `severity:S` `role:R`,
plain words match any column, `!` inverts (`!status:succeeded`).

**Heartbeat**: green under two heartbeat intervals, yellow up to the lease,
red beyond, grey for inactive workers. **Runs**: retrying = queued after a
failure; `↺n` = requeued n times from a dead worker or an expired lease.
**Streams**: *silent* when the newest event is older than
{statements.SILENCE_SECONDS / 60:g} minutes; *replaying* while a replay re-reads it;
a lag of `{statements.LAG_CAP}+` means at least that many events wait.
**Flood** (the red banner): more than {FLOOD_START} findings in the last 10 minutes
start one, fewer than {FLOOD_END} in a 10-minute window end it (EEMUA 191).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "back", "Close")]

    def action_back(self) -> None:
        self.dismiss()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
