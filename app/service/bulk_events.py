"""``slotbandit ingest-events``: a file of history loaded as ``POST /events`` would store it.

The same parser (``app/service/event_input.py``) and the same rows (``CustomerStore.write``) as
the HTTP path, so features and training rows come out the same. Identities differ in one way:
a load is one writer, so it reads which event keys exist (``EventKeyStore.stored``), writes the
rows of the new events and then their keys (no Paxos round). A key therefore always means a
complete event: a run stopped half-way and started again completes what is missing, and a second
run of the same file writes nothing and counts every event as a duplicate. Loading the same events
over HTTP at the same moment may count some of them as accepted on both paths (they are still
stored once: every row has a deterministic key).
"""
from __future__ import annotations

import gc
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from app.service.attribution import relabel_all
from app.service.event_files import EventFile, NotJSON
from app.service.event_input import parse_all
from app.service.ingest import first_of_each_id
from app.storage.catalog import CatalogStore
from app.storage.customer_events import MONEY_EVENTS, CustomerEvent
from app.storage.customers import CustomerStore
from app.storage.db import Database
from app.storage.event_keys import EventKeyStore

CHUNK_ROWS = 50000   # rows parsed and written together
# Allocations between two collections of Python's youngest generation during a load (default 700).
# A load keeps a chunk of parsed events alive (about ten containers each), and the driver leaves
# every request's statements in reference cycles; at the default the collector walked them over
# and over: a third of the loader's CPU time (measured: 21 -> 16 s per 200,000 events).
GC_THRESHOLD = 100_000


@dataclass
class LoadSummary:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: Counter = field(default_factory=Counter)          # reason -> rows
    first_row: Dict[str, int] = field(default_factory=dict)    # reason -> first row number (1-based)
    labels_changed: int = 0

    def add(self, chunk: "ChunkResult") -> None:
        self.accepted += chunk.accepted
        self.duplicates += chunk.duplicates
        self.labels_changed += chunk.labels_changed
        for row, reason in sorted(chunk.refused):
            self.refuse(row, reason)

    def refuse(self, row: int, reason: str) -> None:
        kind = _reason_kind(reason)
        self.refused[kind] += 1
        self.first_row[kind] = min(row, self.first_row.get(kind, row))

    def lines(self) -> List[str]:
        out = [f"rows: {self.rows}  accepted: {self.accepted}  duplicates: {self.duplicates}  "
               f"refused: {sum(self.refused.values())}"]
        for reason, count in self.refused.most_common():
            out.append(f"  {count:>9}  {reason} (first at row {self.first_row[reason]})")
        return out


@dataclass
class ChunkResult:
    accepted: int = 0
    duplicates: int = 0
    refused: List[Tuple[int, str]] = field(default_factory=list)  # (row number, reason)
    labels_changed: int = 0


class ChunkLoader:
    """Loads chunks of (row number, item) for one tenant: parse, store new events, relabel payers."""

    def __init__(self, db: Database, tenant: str, decision_ok: Callable[[str], bool]):
        self.db, self.tenant, self.decision_ok = db, tenant, decision_ok
        self.store, self.keys, self.catalog = CustomerStore(db), EventKeyStore(db), CatalogStore(db)

    def load(self, rows: List[Tuple[int, Any]], now: Optional[datetime] = None) -> ChunkResult:
        return self.store_parsed(self.parse(rows, now))

    def parse(self, rows: List[Tuple[int, Any]], now: Optional[datetime] = None) -> Tuple[ChunkResult, list]:
        """(result with the refused rows, valid events): no storage."""
        result = ChunkResult()
        readable = []
        for number, item in rows:
            if isinstance(item, NotJSON):
                result.refused.append((number, str(item)))
            else:
                readable.append((number, item))
        valid, rejected = parse_all(self.tenant, [item for _, item in readable], self.decision_ok, now)
        result.refused += [(readable[r["index"]][0], r["reason"]) for r in rejected]
        return result, [event for _, event in valid]

    def store_parsed(self, parsed: Tuple[ChunkResult, list]) -> ChunkResult:
        result, valid = parsed
        events, _ = first_of_each_id(valid)
        written = store_history(self.store, self.keys, events)
        result.accepted = len(written)
        result.duplicates = len(valid) - len(written)
        payers = {event.customer_id for event in written if event.event in MONEY_EVENTS}
        result.labels_changed = relabel_all(self.db, self.catalog.load_slot, self.tenant, payers)
        return result


def load_events(loader: ChunkLoader, events_file: EventFile, progress: Callable[[int], None],
                chunk_rows: int = CHUNK_ROWS) -> LoadSummary:
    """Load every row of the file, chunk after chunk; ``progress(units)`` after each chunk.

    The next chunk is read and parsed in a second thread while this one waits for Cassandra to
    store the current one (the driver waits without holding the interpreter lock)."""
    summary = LoadSummary()
    chunks = iter(events_file.chunks(chunk_rows))

    def read_and_parse():
        chunk = next(chunks, None)
        if chunk is None:
            return None
        items, units = chunk
        first = summary.rows + 1
        summary.rows += len(items)
        return loader.parse([(first + offset, item) for offset, item in enumerate(items)]), units

    with ThreadPoolExecutor(max_workers=1) as reader, _fewer_collections():
        upcoming = reader.submit(read_and_parse)
        while True:
            ready = upcoming.result()
            if ready is None:
                return summary
            upcoming = reader.submit(read_and_parse)
            parsed, units = ready
            summary.add(loader.store_parsed(parsed))
            progress(units)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector runs every GC_THRESHOLD allocations instead of the default."""
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def store_history(store: CustomerStore, keys: EventKeyStore, events: List[CustomerEvent]) -> List[CustomerEvent]:
    """Write the events whose keys do not exist yet, then their keys; the events written."""
    stored = keys.stored(events)
    new = [event for event in events if event.event_id not in stored]
    now = datetime.now(timezone.utc)
    store.write(new, now)
    keys.insert(new, now)
    return new


_VALUES = ((re.compile(r" \(got .*\)$"), ""), (re.compile(r", not .*$"), ""),
           (re.compile(r"^unknown event type '.*'; "), "unknown event type; "),
           (re.compile(r"^event_time .* is (not an ISO|in the future)"), r"event_time ... is \1"),
           (re.compile(r"^event is \d+ bytes"), "event is over the limit in bytes"),
           (re.compile(r", but \d+ are given$"), ""))


def _reason_kind(reason: str) -> str:
    """A reason without the row's own value, so that rows refused for one reason count together."""
    for pattern, replacement in _VALUES:
        reason = pattern.sub(replacement, reason)
    return reason
