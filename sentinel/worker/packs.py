"""Which rule pack a pass uses, and storing packs in the database.

Priority: SENTINEL_RULES_PATH when set > the newest pack stored with
`sentinel rules load` > the bundled sample pack. The whole fleet thus follows
`rules load` without a restart, unless an operator pins a path.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel.rules import pack as packs
from sentinel.rules.engine import DEFAULT_RULE_BUDGET_SECONDS, Engine
from sentinel.rules.flood import DEFAULT_FLOOD_FINDINGS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredPack:
    id: int
    digest: str
    source: str
    rule_count: int
    created: bool  # False: this exact pack was already stored


class PackStore:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def save(self, pack: packs.RulePack) -> StoredPack:
        row = self.conn.execute(
            """
            INSERT INTO rule_pack (digest, source, documents, rule_count)
            VALUES (%(digest)s, %(source)s, %(documents)s, %(rule_count)s)
            ON CONFLICT (digest) DO UPDATE SET loaded_at = now()
            RETURNING id, (xmax = 0) AS created
            """,
            {
                "digest": pack.digest,
                "source": pack.source,
                "documents": Jsonb(pack.documents),
                "rule_count": len(pack.rules),
            },
        ).fetchone()
        assert row is not None
        return StoredPack(row[0], pack.digest, pack.source, len(pack.rules), bool(row[1]))

    def latest_digest(self) -> str | None:
        row = self.conn.execute(
            "SELECT digest FROM rule_pack ORDER BY loaded_at DESC, id DESC LIMIT 1"
        ).fetchone()
        return str(row[0]) if row else None

    def load(self, digest: str) -> packs.RulePack:
        row = self.conn.execute(
            "SELECT source, documents FROM rule_pack WHERE digest = %s", [digest]
        ).fetchone()
        assert row is not None, f"rule pack {digest} vanished"
        return packs.load_documents(row[1], source=row[0])


class RuleSource:
    """The engine for the pack in force, rebuilt only when the pack changes."""

    def __init__(
        self,
        pool: ConnectionPool,
        rules_path: Path | None,
        *,
        rule_budget_seconds: float = DEFAULT_RULE_BUDGET_SECONDS,
        flood_findings: int = DEFAULT_FLOOD_FINDINGS,
    ) -> None:
        self.pool = pool
        self.rules_path = rules_path
        self.rule_budget_seconds = rule_budget_seconds
        self.flood_findings = flood_findings
        self._engine: Engine | None = None
        self._digest: str | None = None
        self._mutex = threading.Lock()

    def engine(self) -> Engine:
        with self._mutex:
            if self.rules_path is not None:
                if self._engine is None:
                    self._engine = self._build(packs.load_path(self.rules_path))
                return self._engine
            with self.pool.connection() as conn:
                store = PackStore(conn)
                digest = store.latest_digest()
                if digest is not None and digest != self._digest:
                    self._engine = self._build(store.load(digest))
                    self._digest = digest
                    log.info("rule pack loaded", extra={"pack": digest[:12]})
            if self._engine is None:
                self._engine = self._build(packs.load_path(packs.bundled_pack_path()))
            return self._engine

    def _build(self, pack: packs.RulePack) -> Engine:
        return Engine(
            pack,
            rule_budget_seconds=self.rule_budget_seconds,
            flood_findings=self.flood_findings,
        )
