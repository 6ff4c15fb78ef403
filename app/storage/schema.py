"""Apply the numbered CQL files in ``cql/`` (and any other CQL file) statement by statement.

Every file is re-runnable: tables are created ``IF NOT EXISTS``, and ``ALTER TABLE t ADD c type``
is skipped when the column exists already (CQL has no ``IF NOT EXISTS`` there on every version).
Only ``${keyspace}`` and ``${replication}`` are
substituted, after ``Settings`` validated both; nothing else is built by string formatting.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable, Iterator, List

from cassandra import InvalidRequest
from cassandra.cluster import Session

from app.storage.catalog import zone_of
from app.storage.db import connect_cluster
from app.settings import REPO_ROOT, Settings

# A checkout (or editable install) has cql/ beside the packages; an installed copy (the Docker
# image) runs from a directory holding cql/.
CQL_DIR = REPO_ROOT / "cql" if (REPO_ROOT / "cql").is_dir() else Path.cwd() / "cql"


def split_statements(text: str) -> List[str]:
    """Split CQL text on ``;`` outside quoted strings, dropping ``--`` and ``//`` comments."""
    statements, current = [], []
    for chunk in _tokens(text):
        if chunk == ";":
            statement = "".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
        else:
            current.append(chunk)
    tail = "".join(current).strip()
    if tail:
        statements.append(tail)
    return statements


def _tokens(text: str) -> Iterator[str]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "'":  # a string literal; '' is an escaped quote
            j = i + 1
            while j < n:
                if text[j] == "'" and (j + 1 >= n or text[j + 1] != "'"):
                    break
                j += 2 if text[j] == "'" else 1
            yield text[i : j + 1]
            i = j + 1
        elif text.startswith("--", i) or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch == ";":
            yield ";"
            i += 1
        else:
            yield ch
            i += 1


def schema_files() -> List[Path]:
    return sorted(CQL_DIR.glob("[0-9][0-9][0-9]_*.cql"))


def render(path: Path, settings: Settings) -> List[str]:
    text = path.read_text()
    text = text.replace("${keyspace}", settings.keyspace).replace("${replication}", settings.replication)
    return split_statements(text)


_ADD_COLUMN = re.compile(r"^\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+(\w+)\s", re.IGNORECASE)


def run_file(session: Session, path: Path, settings: Settings) -> int:
    """Execute every statement of one file (skipping columns already added); return how many ran."""
    ran = 0
    for statement in render(path, settings):
        if _adds_existing_column(session, settings.keyspace, statement):
            continue
        session.execute(statement, timeout=60)
        ran += 1
    return ran


def _adds_existing_column(session: Session, keyspace: str, statement: str) -> bool:
    """True for ``ALTER TABLE t ADD c ...`` when t already has column c."""
    match = _ADD_COLUMN.match(statement)
    if match is None:
        return False
    session.cluster.refresh_table_metadata(keyspace, match.group(1))
    table = session.cluster.metadata.keyspaces[keyspace].tables.get(match.group(1))
    return table is not None and match.group(2).lower() in table.columns


def _use_keyspace(cluster, session: Session, keyspace: str, wait_s: float = 60.0) -> None:
    """USE the keyspace just created, once every node knows it: on a cluster a node that has not
    received the new schema yet answers that the keyspace does not exist."""
    deadline = time.monotonic() + wait_s
    while True:
        cluster.control_connection.wait_for_schema_agreement()
        try:
            session.set_keyspace(keyspace)
            return
        except InvalidRequest:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def config_warnings(session: Session) -> List[str]:
    """Serving controls the service cannot use as written (it falls back and logs the same): unknown
    time zones, hours outside 0-23 and flights that end before they start. Reads every slot and creative."""
    warnings = []
    for row in session.execute("SELECT tenant, platform, slot_id, timezone FROM slots"):
        _, problem = zone_of(row["timezone"])
        if problem:
            warnings.append(f"slot {row['tenant']}/{row['platform']}/{row['slot_id']}: {problem}")
    for row in session.execute("SELECT tenant, platform, slot_id, creative_id, starts_at, ends_at, hours FROM creatives"):
        name = f"creative {row['tenant']}/{row['platform']}/{row['slot_id']}/{row['creative_id']}"
        hours, starts_at, ends_at = row["hours"] or (), row["starts_at"], row["ends_at"]
        if any(not 0 <= h <= 23 for h in hours):
            warnings.append(f"{name}: hours must be 0-23, but {sorted(hours)} is given")
        if starts_at is not None and ends_at is not None and ends_at <= starts_at:
            warnings.append(f"{name}: ends_at is not after starts_at: the creative is never shown")
    return warnings


def apply_schema(settings: Settings, log: Callable[[str], None] = print) -> None:
    """Create the keyspace and every table; safe to run again at any time."""
    cluster, session = connect_cluster(settings, connect_timeout=10)
    try:
        files = schema_files()
        for index, path in enumerate(files):
            if index == 1:
                _use_keyspace(cluster, session, settings.keyspace)
            count = run_file(session, path, settings)
            log(f"applied {path.name} ({count} statements)")
        # DDL is asynchronous across a cluster; wait until every node agrees.
        cluster.control_connection.wait_for_schema_agreement()
        for warning in config_warnings(session):
            log(f"warning: {warning}")
    finally:
        cluster.shutdown()
