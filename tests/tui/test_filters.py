"""The filter language and the chart: pure functions, no database."""

from __future__ import annotations

from sentinel.tui.widgets.chart import Line, plot
from sentinel.views import filters
from sentinel.views.rows import Point

ROW = {"stream": "plant-a/line-1/press-1", "status": "running", "worker": "w-alpha"}


def _match(text: str, fields: dict[str, str] = ROW, cells: tuple[str, ...] = ()) -> bool:
    return filters.parse(text).matches(fields, cells)


def test_stream_glob_matches_the_whole_key() -> None:
    assert _match("stream:plant-a/*")
    assert _match("stream:*/press-?")
    assert not _match("stream:plant-b/*")
    assert _match("stream:line-1")  # no glob characters: a substring


def test_status_is_exact_and_bang_inverts() -> None:
    assert _match("status:running")
    assert not _match("status:run")
    assert not _match("!status:running")
    assert _match("status:!dead")
    assert _match("!status:dead")


def test_plain_words_match_any_column_and_all_terms_must_hold() -> None:
    assert _match("alpha", cells=("w-alpha",))
    assert _match("ALPHA press", cells=("w-alpha",))
    assert not _match("alpha !press", cells=("w-alpha",))


def test_a_qualifier_the_view_lacks_matches_nothing() -> None:
    assert not _match("severity:critical")
    assert _match("!severity:critical")


def test_empty_filter_matches_everything() -> None:
    flt = filters.parse("   ")
    assert not flt
    assert flt.matches({}, ())


def test_chart_draws_limit_lines_and_triggering_points() -> None:
    points = [Point(None, float(v), None, None, v > 85) for v in (80, 82, 84, 86, 90)]
    rows = plot(points, [Line("above", 85.0, "bad")], width=60, height=6)
    text = ["".join(part for part, _ in row) for row in rows]
    assert len(text) == 6
    assert any("─ above 85" in line for line in text)
    assert "█" in "".join(text)
    tones = {tone for row in rows for part, tone in row if "█" in part}
    assert tones == {"bad", "info"}  # triggering bars stand out


def test_chart_without_points_says_so() -> None:
    rows = plot([], [], width=40)
    assert "no chartable points" in rows[0][0][0]
