"""`sentinel shelve`, `shelves list`, `unshelve` as a user runs them: real
processes on a real database; every wrong input is one line `sentinel:
error: …` and a non-zero exit, never a traceback."""

from __future__ import annotations

import getpass
import json
import subprocess

import pytest

from tests.acceptance.test_cli import sentinel


def _one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sentinel: error: "), result.stderr
    return lines[0].removeprefix("sentinel: error: ")


def test_shelve_list_unshelve(db_url: str) -> None:
    env = {"SENTINEL_DATABASE_URL": db_url}
    made = sentinel(
        "shelve",
        "--stream",
        "plant-a/*",
        "--rule",
        "press.*",
        "--severity",
        "critical",
        "--until",
        "2099-01-01T12:00",
        "--reason",
        "press swap",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("shelf 1 live until 2099-01-01 12:00:00+00:00 ")
    other = sentinel(
        "shelve", "--stream", "ci/*", "--for", "30m", "--reason", "x", "--by", "bo", env=env
    )
    assert other.returncode == 0, other.stderr
    listed = json.loads(sentinel("shelves", "list", "--json", env=env).stdout)
    assert [(s["id"], s["state"], s["actor"]) for s in listed] == [
        (2, "live", "bo"),  # expiring soonest first
        (1, "live", getpass.getuser()),  # the OS user without --by
    ]
    assert (listed[1]["rule_glob"], listed[1]["severity"], listed[1]["reason"]) == (
        "press.*",
        "critical",
        "press swap",
    )
    table = sentinel("shelves", "list", env=env).stdout
    assert "press swap" in table and "plant-a/*" in table
    ended = sentinel("unshelve", "2", "--by", "cy", "--comment", "done", env=env)
    assert ended.returncode == 0 and ended.stdout.strip() == "shelf 2 unshelved by cy"
    assert [s["id"] for s in json.loads(sentinel("shelves", "list", "--json", env=env).stdout)] == [
        1
    ]
    everything = json.loads(sentinel("shelves", "list", "--all", "--json", env=env).stdout)
    assert [(s["id"], s["state"], s["ended_by"]) for s in everything] == [
        (1, "live", None),
        (2, "unshelved", "cy"),
    ]
    assert _one_error(sentinel("unshelve", "2", env=env)).startswith("shelf 2 ended at ")
    assert _one_error(sentinel("unshelve", "99", env=env)) == "no shelf with id 99"
    shelved = sentinel("recommendations", "list", "--state", "shelved", env=env)
    assert shelved.returncode == 0 and shelved.stdout.strip() == "no recommendations"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("--for", "1h", "--until", "2099-01-01T00:00"),
            "give exactly one of --for D and --until T",
        ),
        ((), "give exactly one of --for D and --until T"),
        (("--for", "soon"), "--for: bad duration 'soon'"),
        (("--for", "0s"), "--for must be longer than 0 seconds"),
        (("--until", "tomorrow"), "--until 'tomorrow' is not an ISO time"),
        (("--until", "2020-01-01T00:00"), "is not after the database's clock"),
        (("--for", "1h", "--rule", "press.[a"), "bad glob 'press.[a' for --rule: unclosed '['"),
        (("--for", "1h", "--by", " "), None),  # blank --by: the OS user, accepted
    ],
)
def test_wrong_shelve_input_is_one_line(
    db_url: str, args: tuple[str, ...], error: str | None
) -> None:
    env = {"SENTINEL_DATABASE_URL": db_url}
    result = sentinel("shelve", "--stream", "a/*", "--reason", "r", *args, env=env)
    if error is None:
        assert result.returncode == 0, result.stderr
        return
    assert error in _one_error(result)


@pytest.mark.parametrize(
    "args",
    [
        ("shelve", "--for", "1h", "--reason", "r"),  # no --stream
        ("shelve", "--stream", "a/*", "--for", "1h"),  # no --reason
        ("shelve", "--stream", "a/*", "--for", "1h", "--reason", "r", "--severity", "huge"),
        ("unshelve",),
        ("unshelve", "one"),
    ],
)
def test_usage_errors_are_one_line(db_url: str, args: tuple[str, ...]) -> None:
    result = sentinel(*args, env={"SENTINEL_DATABASE_URL": db_url})
    assert result.returncode == 2
    assert "--help" in _one_error(result)


def test_a_blank_reason_is_refused(db_url: str) -> None:
    result = sentinel(
        "shelve",
        "--stream",
        "a/*",
        "--for",
        "1h",
        "--reason",
        "  ",
        env={"SENTINEL_DATABASE_URL": db_url},
    )
    assert _one_error(result) == "a shelf needs a reason (--reason)"
