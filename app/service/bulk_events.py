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

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional

from app.service.attribution import relabel_all
from app.service.event_files import EventFile, NotJSON
from app.service.event_input import parse_all
from app.storage.catalog import CatalogStore
from app.storage.customer_events import MONEY_EVENTS, CustomerEvent
from app.storage.customers import CustomerStore
from app.storage.db import Database
from app.storage.event_keys import EventKeyStore

CHUNK_ROWS = 20000   # rows parsed and written together: large enough to fill the key partitions


@dataclass
class LoadSummary:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: Counter = field(default_factory=Counter)          # reason -> rows
    first_row: Dict[str, int] = field(default_factory=dict)    # reason -> first row number (1-based)
    labels_changed: int = 0

    def refuse(self, row: int, reason: str) -> None:
        kind = _reason_kind(reason)
        self.refused[kind] += 1
        self.first_row.setdefault(kind, row)

    def lines(self) -> List[str]:
        out = [f"rows: {self.rows}  accepted: {self.accepted}  duplicates: {self.duplicates}  "
               f"refused: {sum(self.refused.values())}"]
        for reason, count in self.refused.most_common():
            out.append(f"  {count:>9}  {reason} (first at row {self.first_row[reason]})")
        return out


def load_events(db: Database, tenant: str, events_file: EventFile, decision_ok: Callable[[str], bool],
                progress: Callable[[int], None], chunk_rows: int = CHUNK_ROWS,
                now: Optional[datetime] = None) -> LoadSummary:
    """Load every row of the file for ``tenant``; ``progress(units)`` after each chunk."""
    summary = LoadSummary()
    store, keys, catalog = CustomerStore(db), EventKeyStore(db), CatalogStore(db)
    for items, units in events_file.chunks(chunk_rows):
        first = summary.rows + 1
        summary.rows += len(items)
        readable = []
        for offset, item in enumerate(items):
            if isinstance(item, NotJSON):
                summary.refuse(first + offset, str(item))
            else:
                readable.append((offset, item))
        valid, rejected = parse_all(tenant, [item for _, item in readable], decision_ok, now)
        for refused in rejected:
            summary.refuse(first + readable[refused["index"]][0], refused["reason"])
        events = _first_of_each_id([event for _, event in valid])
        summary.duplicates += len(valid) - len(events)
        written = store_history(store, keys, events)
        summary.accepted += len(written)
        summary.duplicates += len(events) - len(written)
        payers = {event.customer_id for event in written if event.event in MONEY_EVENTS}
        summary.labels_changed += relabel_all(db, catalog.load_slot, tenant, payers)
        progress(units)
    return summary


def store_history(store: CustomerStore, keys: EventKeyStore, events: List[CustomerEvent]) -> List[CustomerEvent]:
    """Write the events whose keys do not exist yet, then their keys; the events written."""
    stored = keys.stored(events)
    new = [event for event in events if event.event_id not in stored]
    now = datetime.now(timezone.utc)
    store.write(new, now)
    keys.insert(new, now)
    return new


def _first_of_each_id(events: List[CustomerEvent]) -> List[CustomerEvent]:
    seen, first = set(), []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            first.append(event)
    return first


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
