"""``slotbandit ingest-events``: a file of history loaded as ``POST /events`` would store it.

The same parser (``app/service/event_input.py``) and the same rows (``CustomerStore.write``) as
the HTTP path, so features and training rows come out the same. Identities differ in one way: a
load is one writer, so it reads the event keys of each UTC hour it touches once
(``EventKeyStore.ids_of_hours``, kept in ``KnownIds`` with the keys it writes), writes the rows of
the new events and then their keys (no Paxos round). A key therefore always means a complete
event: a run stopped half-way and started again completes what is missing, and a second run of the
same file writes nothing and counts every event as a duplicate. Events of those hours sent over
HTTP while a load runs may be counted as accepted on both paths (they are still stored once: every
row has a deterministic key).
"""
from __future__ import annotations

import gc
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

from app.service.attribution import relabel_all
from app.service.event_files import EventFile, NotJSON
from app.service.event_input import parse_all
from app.service.ingest import first_of_each_id
from app.storage.catalog import CatalogStore
from app.storage.customer_events import MONEY_EVENTS, CustomerEvent
from app.storage.customers import CustomerStore
from app.storage.db import Database
from app.storage.event_keys import EventKeyStore

CHUNK_ROWS = 20000   # rows parsed and written together (keys are read per hour, not per chunk)
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


@dataclass
class ReadyChunk:
    """A chunk parsed, the keys of its hours known: what ``ChunkLoader.store`` needs."""

    result: ChunkResult                   # the refused rows so far
    valid: int                            # valid rows (repeats of an id within the chunk included)
    events: List[CustomerEvent]           # the first event of each id


class KnownIds:
    """The ids of the event keys of every UTC hour a load has touched: those stored when the load
    first read the hour, and those the load wrote since (a load is the one writer of its events).

    A raw event's id (``raw-`` and 32 hex digits of its digest) is kept as the number those digits
    spell: 4 million ids take about 320 MB instead of 560 MB as strings. Any other id is kept as is."""

    def __init__(self, keys: EventKeyStore, tenant: str):
        self.keys, self.tenant = keys, tenant
        self.by_hour: Dict[str, Set[Union[int, str]]] = {}

    def read(self, events: List[CustomerEvent]) -> None:
        """Read the stored keys of the events' hours not read yet."""
        unread = {event.hour for event in events} - self.by_hour.keys()
        if unread:
            for hour, ids in self.keys.ids_of_hours(self.tenant, unread).items():
                self.by_hour[hour] = {compact_id(event_id) for event_id in ids}

    def new(self, events: List[CustomerEvent]) -> List[CustomerEvent]:
        """The events whose keys are not known (their hours read already)."""
        return [event for event in events if compact_id(event.event_id) not in self.by_hour[event.hour]]

    def add(self, events: List[CustomerEvent]) -> None:
        for event in events:
            self.by_hour[event.hour].add(compact_id(event.event_id))


_RAW_ID = re.compile(r"raw-([0-9a-f]{32})")


def compact_id(event_id: str) -> Union[int, str]:
    """The number of a raw event's id (one id, one number: only the lowercase digits the parser
    writes are read), any other id as it is."""
    match = _RAW_ID.fullmatch(event_id)
    return int(match.group(1), 16) if match else event_id


class ChunkLoader:
    """Loads chunks of (row number, item) for one tenant: parse, read the keys of new hours, store
    new events, relabel payers."""

    def __init__(self, db: Database, tenant: str, decision_ok: Callable[[str], bool]):
        self.db, self.tenant, self.decision_ok = db, tenant, decision_ok
        self.store_rows, self.keys, self.catalog = CustomerStore(db), EventKeyStore(db), CatalogStore(db)
        self.known = KnownIds(self.keys, tenant)

    def load(self, rows: List[Tuple[int, Any]], now: Optional[datetime] = None) -> ChunkResult:
        return self.store(self.prepare(rows, now))

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

    def prepare(self, rows: List[Tuple[int, Any]], now: Optional[datetime] = None) -> ReadyChunk:
        """Parse the rows and read the stored keys of the hours no chunk before touched.

        Safe beside ``store`` of the chunk before (``load_events`` runs them in two threads): that
        chunk has no event in an hour read here, so it writes no key there."""
        result, valid = self.parse(rows, now)
        events, _ = first_of_each_id(valid)
        self.known.read(events)
        return ReadyChunk(result, len(valid), events)

    def store(self, chunk: ReadyChunk) -> ChunkResult:
        """Write the chunk's new events (rows, then keys) and relabel their payers."""
        result = chunk.result
        new = self.known.new(chunk.events)
        now = datetime.now(timezone.utc)
        self.store_rows.write(new, now)
        self.keys.insert(new, now)
        self.known.add(new)
        result.accepted = len(new)
        result.duplicates = chunk.valid - len(new)
        payers = {event.customer_id for event in new if event.event in MONEY_EVENTS}
        result.labels_changed = relabel_all(self.db, self.catalog.load_slot, self.tenant, payers)
        return result


def load_events(loader: ChunkLoader, events_file: EventFile, progress: Callable[[int], None],
                chunk_rows: int = CHUNK_ROWS) -> LoadSummary:
    """Load every row of the file, chunk after chunk; ``progress(units)`` after each chunk.

    A second thread reads and parses the next chunk, and reads the keys of the hours it is the first
    to touch, while this one writes the current chunk (the driver waits without holding the
    interpreter lock)."""
    summary = LoadSummary()
    chunks = iter(events_file.chunks(chunk_rows))

    def read_and_prepare():
        chunk = next(chunks, None)
        if chunk is None:
            return None
        items, units = chunk
        first = summary.rows + 1
        summary.rows += len(items)
        return loader.prepare([(first + offset, item) for offset, item in enumerate(items)]), units

    with ThreadPoolExecutor(max_workers=1) as reader, _fewer_collections():
        upcoming = reader.submit(read_and_prepare)
        while True:
            ready = upcoming.result()
            if ready is None:
                return summary
            upcoming = reader.submit(read_and_prepare)
            chunk, units = ready
            summary.add(loader.store(chunk))
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
