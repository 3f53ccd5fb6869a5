"""stream keys, sources and external ids compare as bytes (COLLATE "C")

Every event row enters three indexes, two of them on these text columns; with
"C" a comparison is a memcmp instead of the locale's strcoll. Measured on a
1,000,000-row COPY into `event`: about 15 % less server time. `stream.key` and
`detection.stream` are joined with `event.stream`, so they change together
and every copy of a stream key sorts the same way.
The columns' indexes are rebuilt; the table is not rewritten.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("event", "source"),
    ("event", "stream"),
    ("event", "external_id"),
    ("stream", "key"),
    ("detection", "stream"),
)


def _collate(collation: str) -> None:
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "{collation}"')


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
