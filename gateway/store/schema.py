"""Versioned schema migrations, shipped as SQL files and applied at start-up.

Files live in ``gateway/store/migrations/`` and are named ``NNNN_name.sql``
(portable SQL both databases accept). Where one dialect needs other text, a
sibling ``NNNN_name.<dialect>.sql`` (``sqlite`` or ``postgres``) replaces the
portable file for that dialect. A later feature (the audit tables, say) adds
``0100_audit.sql`` and nothing else: versions are unique but may leave gaps.
Applied versions are rows of ``schema_migrations``; each backend applies the
missing ones inside one
transaction under its writer lock (SQLite) or an advisory lock (PostgreSQL),
so concurrent openers apply each migration exactly once.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Protocol

import structlog

_log = structlog.get_logger("store.schema")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$")

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    """One schema step: its version, its name and its SQL statements in order."""

    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(script: str) -> tuple[str, ...]:
    """Split a SQL script into complete statements (comments and blank lines dropped)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip().rstrip(";").strip())
            buffer = ""
    if buffer.strip():
        raise ValueError("migration script ends inside a statement (missing ';')")
    return tuple(statements)


def load_migrations(dialect: str, folder: Traversable | None = None) -> list[Migration]:
    """The migrations for ``dialect`` in version order, dialect-specific files preferred.

    Versions must be unique but may leave gaps, so a feature can claim a range
    (the audit tables at ``0100``, say) without renumbering anything.
    """
    chosen: dict[int, tuple[str, str, bool]] = {}
    folder = folder or resources.files("gateway.store").joinpath("migrations")
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        version, name, only_for = int(match[1]), match[2], match[3]
        if only_for is not None and only_for != dialect:
            continue
        specific = only_for is not None
        previous = chosen.get(version)
        if previous is not None:
            if previous[0] != name:
                raise ValueError(f"two migrations share version {version:04d}")
            if previous[2] and not specific:
                continue
        chosen[version] = (name, entry.read_text(encoding="utf-8"), specific)
    versions = sorted(chosen)
    return [
        Migration(version=v, name=chosen[v][0], statements=split_statements(chosen[v][1]))
        for v in versions
    ]


class _Executor(Protocol):
    async def execute(self, sql: str, *params: Any) -> int: ...

    async def fetch_all(self, sql: str, *params: Any) -> list[dict[str, Any]]: ...


async def apply_migrations(tx: _Executor, dialect: str, now_us: int) -> list[int]:
    """Apply the missing migrations inside ``tx`` (the caller holds the lock); their versions."""
    await tx.execute(CREATE_SCHEMA_MIGRATIONS)
    rows = await tx.fetch_all("SELECT version FROM schema_migrations")
    applied = {int(r["version"]) for r in rows}
    done: list[int] = []
    for migration in load_migrations(dialect):
        if migration.version in applied:
            continue
        for statement in migration.statements:
            await tx.execute(statement)
        await tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            migration.version,
            migration.name,
            now_us,
        )
        _log.info("store.migration_applied", version=migration.version, name=migration.name)
        done.append(migration.version)
    return done
