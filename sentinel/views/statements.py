"""The read model's named queries (queries.sql) and the parameters each takes.

Every query is bounded (LIMITs, capped counts, index probes), so a read
costs what it returns, not the size of the history; every age is computed
against `coalesce(%(now)s, now())`, so production uses the database clock and
tests pin it. Filters are parameters (`filters.params`), applied in the
query before its row limit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sentinel.db import queries
from sentinel.types import (
    FindingState,
    RecommendationStatus,
    RunStatus,
    Severity,
    ShownRecommendationStatus,
    ShownRunStatus,
    WorkerRole,
    WorkerStatus,
    values,
)
from sentinel.views import filters

SQL = queries.beside(__file__)

ROW_LIMIT = 200  # rows a dashboard view fetches (a screen shows a few dozen)
RECENT_REVIEWED = 100  # acknowledged / dismissed recommendations shown, each
COUNT_CAP = 10_000  # dead runs, open recommendations, events in the last minute, totals
LAG_CAP = 1_000  # per stream: a lag at the cap is shown as "1000+"
EVIDENCE_LIMIT = 200
JOURNAL_LIMIT = 1_000  # journal rows `recommendations history` prints
SILENCE_SECONDS = 300.0  # a stream whose newest event is older than this is "silent"
LONG_FACTOR = 5.0  # a running run is "long" past this many times its stream's usual pass
LONG_FLOOR = 60.0  # … and never before this many seconds
USUAL_RUNS = 20  # the usual pass: the median of this many latest succeeded runs

WORKER_STATUSES = values(WorkerStatus)
WORKER_ROLES = values(WorkerRole)
RUN_STATUSES = values(RunStatus)
RECOMMENDATION_STATUSES = values(RecommendationStatus)
# What people read: an open recommendation on a shelf is `shelved`, one a
# finding suppresses is `suppressed` (neither counted as open).
SHOWN_RECOMMENDATION_STATUSES = values(ShownRecommendationStatus)
FINDING_STATES = values(FindingState)
# The stored status behind each shown status and each combined state.
STORED_OF_SHOWN = {
    "open": "open",
    "shelved": "open",
    "suppressed": "open",
    "acknowledged": "acknowledged",
    "dismissed": "dismissed",
}
STORED_OF_STATE = {
    FindingState.UNACKNOWLEDGED_ACTIVE.value: "open",
    FindingState.UNACKNOWLEDGED_CLEARED.value: "open",
    FindingState.SHELVED.value: "open",
    FindingState.SUPPRESSED.value: "open",
    FindingState.ACKNOWLEDGED_ACTIVE.value: "acknowledged",
    FindingState.DONE.value: "acknowledged",
    FindingState.DISMISSED.value: "dismissed",
}
SEVERITIES = values(Severity)
# What people read: a queued run that failed before is `retrying`.
SHOWN_RUN_STATUSES = values(ShownRunStatus)
STREAM_STATES = ("live", "silent", "replaying", "disabled")


class View(StrEnum):
    FLEET = "fleet"
    RUNS = "runs"
    STREAMS = "streams"
    RECOMMENDATIONS = "recommendations"
    DETECTIONS = "detections"


# Each view's qualifiers: closed ones (their values) and free-text ones.
QUALIFIERS: dict[View, tuple[dict[str, tuple[str, ...]], tuple[str, ...]]] = {
    View.FLEET: ({"status": WORKER_STATUSES, "role": WORKER_ROLES}, ("worker",)),
    View.RUNS: ({"status": SHOWN_RUN_STATUSES}, ("stream", "worker")),
    View.STREAMS: ({"status": STREAM_STATES}, ("stream",)),
    View.RECOMMENDATIONS: (
        {
            "status": SHOWN_RECOMMENDATION_STATUSES,
            "severity": SEVERITIES,
            "state": FINDING_STATES,
        },
        ("stream", "rule"),
    ),
    View.DETECTIONS: (
        {"status": (*SHOWN_RECOMMENDATION_STATUSES, "-"), "severity": SEVERITIES},
        ("stream", "rule"),
    ),
}

# The query of each view's rows, and its parameters besides the filter's.
ROWS: dict[View, tuple[str, dict[str, Any]]] = {
    View.FLEET: ("workers", {}),
    View.RUNS: (
        "runs",
        {"long_factor": LONG_FACTOR, "long_floor": LONG_FLOOR, "usual_runs": USUAL_RUNS},
    ),
    View.STREAMS: ("streams", {"lag_cap": LAG_CAP}),
    View.RECOMMENDATIONS: ("recommendations", {"recent": RECENT_REVIEWED}),
    View.DETECTIONS: ("detections", {}),
}

# Where a page of a view starts (the API's cursors): the keys of its order,
# None on the first page. A keyset, not an offset, so rows inserted while a
# client pages never shift a page.
PAGE_KEYS: dict[View, tuple[str, ...]] = {
    View.FLEET: ("after_status", "after_name"),
    View.RUNS: ("before_id", "since"),  # newest first (not active_first); created since
    View.STREAMS: ("after_key",),
    View.RECOMMENDATIONS: ("before_created", "before_id"),  # recommendations_latest
}

Statement = tuple[str, dict[str, Any]]

SUMMARY: Statement = ("summary", {"cap": COUNT_CAP})


def filter_params(view: View, flt: filters.Filter, *, show_empty: bool = False) -> dict[str, Any]:
    """The filter as the view's query parameters (see `filters.params`)."""
    closed, text = QUALIFIERS[view]
    params: dict[str, Any] = filters.params(flt, closed, text)
    if view == View.RUNS:  # retrying is a queued run that failed before
        shown = params.pop("status")
        params["run_status"] = [s for s in RUN_STATUSES if s in shown] + (
            ["queued"] if "retrying" in shown and "queued" not in shown else []
        )
        params["retrying"] = [False] * ("queued" in shown) + [True] * ("retrying" in shown)
        params["show_empty"] = show_empty
        params["filtered"] = any(params[k] for k in params if k.endswith(("_re", "_not")))
    if view == View.STREAMS:
        params["silence"] = SILENCE_SECONDS
    if view == View.RECOMMENDATIONS:
        params.update(_recommendation_statuses(params.pop("status"), params["state"]))
    params.update(page_params(view, None))  # the first page, unless told otherwise
    return params


def _recommendation_statuses(shown: list[str], states: list[str]) -> dict[str, Any]:
    """The shown statuses and combined states a filter allows, as the stored
    statuses each walk needs: `status` (every one that can give both),
    `apart` (the dashboard's second walk: shelved or suppressed, and the
    reviewed), `every_state` (no term on the state: the count needs no
    detection for it)."""
    stored = [
        s
        for s in RECOMMENDATION_STATUSES
        if any(STORED_OF_SHOWN[x] == s for x in shown)
        and any(STORED_OF_STATE[x] == s for x in states)
    ]
    apart_open = {"shelved", "suppressed"}
    apart = [
        s for s in stored if s != "open" or (apart_open & set(shown) and apart_open & set(states))
    ]
    return {
        "shown": shown,
        "state": states,
        "status": stored,
        "apart": apart,
        "every_state": len(states) == len(FINDING_STATES),
    }


def rows(
    view: View,
    flt: filters.Filter = filters.Filter(),
    *,
    limit: int | None = ROW_LIMIT,
    show_empty: bool = False,
    active_first: bool = True,
    after: dict[str, Any] | None = None,
) -> Statement:
    """The query of a view's rows: `limit` None for all of them (the CLI's
    `workers list`); runs `active_first` (the dashboard) or newest first;
    `after`: where the page starts (PAGE_KEYS)."""
    name, params = ROWS[view]
    extra: dict[str, Any] = {"active_first": active_first} if view == View.RUNS else {}
    return name, {
        **params,
        **extra,
        **filter_params(view, flt, show_empty=show_empty),
        **page_params(view, after),
        "limit": limit,
    }


def page_params(view: View, after: dict[str, Any] | None) -> dict[str, Any]:
    """The view's PAGE_KEYS, None unless `after` gives them."""
    keys = PAGE_KEYS.get(view, ())
    unknown = set(after or {}) - set(keys)
    if unknown:
        raise ValueError(f"{view} pages by {keys}, not {sorted(unknown)}")
    return {key: (after or {}).get(key) for key in keys}


def count(
    view: View, flt: filters.Filter = filters.Filter(), *, show_empty: bool = False
) -> Statement:
    """How many rows the view's filter lets through, counted up to COUNT_CAP."""
    name, _ = ROWS[view]
    return f"{name}_count", {**filter_params(view, flt, show_empty=show_empty), "cap": COUNT_CAP}


def statements(
    view: View, flt: filters.Filter = filters.Filter(), *, show_empty: bool = False
) -> list[Statement]:
    """The named queries, with their parameters, that one dashboard snapshot
    of a view runs (the bench and the EXPLAIN tests run them): the header,
    the rows, how many match."""
    return [
        SUMMARY,
        rows(view, flt, show_empty=show_empty),
        count(view, flt, show_empty=show_empty),
    ]
