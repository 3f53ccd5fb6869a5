"""One real Postgres per test session; a migrated template database; a fresh
copy of it for every test that asks for `db_url`."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import psycopg
import pytest

from sentinel.db import migrate
from tests import pg

TEMPLATE = f"sentinel_template_{os.getpid()}"
_counter = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    try:
        pg.mode()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    mode = pg.mode()
    if mode == "auto":
        return "database: " + (
            f"{pg.URL_VARIABLE}"
            if os.environ.get(pg.URL_VARIABLE)
            else "testcontainers or embedded (chosen at first use)"
        )
    return f"database: {pg.MODE_VARIABLE}={mode}"


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[pg.Server]:
    choice = pg.choose(os.environ.get(pg.URL_VARIABLE), mode=pg.mode())
    if choice.note:
        _say(request.config, choice.note)
    try:
        yield choice.server
    finally:
        choice.release()


def _say(config: pytest.Config, line: str) -> None:
    """One line on the terminal, past pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        if getattr(reporter._tw, "width_of_current_line", 0):  # after progress dots
            reporter.write("\n")
        reporter.write_line(line)


@pytest.fixture(scope="session")
def template_db(pg_server: pg.Server, request: pytest.FixtureRequest) -> Iterator[str]:
    _say(request.config, f"tests: Postgres {pg_server.version()} ({pg_server.kind})")
    pg_server.drop_database(TEMPLATE)
    url = pg_server.create_database(TEMPLATE)
    migrate.upgrade(url)
    yield TEMPLATE
    pg_server.drop_database(TEMPLATE)


def _fresh_database(pg_server: pg.Server, template_db: str) -> Iterator[str]:
    name = f"sentinel_test_{os.getpid()}_{next(_counter)}"
    url = pg_server.create_database(name, template=template_db)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def db_url(pg_server: pg.Server, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    yield from _fresh_database(pg_server, template_db)


@pytest.fixture
def other_db_url(pg_server: pg.Server, template_db: str) -> Iterator[str]:
    """A second fresh, migrated database (to compare two histories)."""
    yield from _fresh_database(pg_server, template_db)


@pytest.fixture
def empty_db_url(pg_server: pg.Server) -> Iterator[str]:
    """A fresh database with no schema at all."""
    name = f"sentinel_empty_{os.getpid()}_{next(_counter)}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def bouncer(pg_server: pg.Server) -> Iterator[pg.Bouncer]:
    """PgBouncer in transaction mode in front of the session's server (the
    test is skipped where the `pgbouncer` binary is not installed)."""
    if pg.pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    with pg.pgbouncer(pg_server) as running:
        yield running


@pytest.fixture(params=["direct", "pgbouncer"])
def route(request: pytest.FixtureRequest, db_url: str) -> dict[str, str]:
    """How a test's workers reach `db_url`: directly, or with the pool through
    PgBouncer in transaction mode and the session connection direct. The
    SENTINEL_* variables to give them (none for direct)."""
    if request.param == "direct":
        return {}
    running: pg.Bouncer = request.getfixturevalue("bouncer")
    return {
        "SENTINEL_DATABASE_URL": running.url(db_url),
        "SENTINEL_SESSION_DATABASE_URL": db_url,
    }


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(autouse=True)
def _clean_sentinel_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No SENTINEL_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("SENTINEL_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path_factory.mktemp("home")))
