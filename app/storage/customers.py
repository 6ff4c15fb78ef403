"""Customer events and the rows user features are read from (their exactly-once claims: event_keys.py).

Every row an event writes has a deterministic key, and every "latest" cell of ``customer_features``
is written ``USING TIMESTAMP`` = the event's time, so writing an event twice (a retry, a repair) is
harmless and arrival order never matters.

The log rows are written as ``UPDATE``s of the columns that have a value: an ``INSERT`` also writes a
row marker, and protocol v3 (Cassandra 2.1) cannot leave a value unset, so every null column would
be a tombstone; both are cells Cassandra writes, flushes and compacts for nothing (about a fifth of
its work per row in a bulk load). Every row keeps at least one set column, so it reads the same.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from cassandra.query import BatchStatement

from app.storage.batches import packed, run_all
from app.storage.db import Database
from app.storage.customer_events import MONEY_EVENTS, CustomerEvent, month_bucket
from app.clock import utc

BATCH_ROWS = 100  # rows per unlogged batch
BATCH_BYTES = 24 * 1024  # and bytes of values: Cassandra 4/5 measure about a fifth more and refuse over 50 KiB


class RowWrite:
    """The write of one table's rows by primary key, setting only the columns whose values are not
    None (statements by which columns are set, made once per process)."""

    def __init__(self, table: str, key: Tuple[str, ...], columns: Tuple[str, ...]):
        self.table, self.key, self.columns = table, key, columns
        self._cql: Dict[Tuple[bool, ...], str] = {}

    def cql(self, present: Tuple[bool, ...]) -> str:
        text = self._cql.get(present)
        if text is None:
            names = [name for name, here in zip(self.columns, present) if here]
            text = self._cql[present] = (f"UPDATE {self.table} SET {', '.join(f'{name} = ?' for name in names)} "
                                         f"WHERE {' AND '.join(f'{name} = ?' for name in self.key)}")
        return text

    def of(self, db: Database, key: tuple, values: tuple) -> Tuple[Any, tuple]:
        """(statement, bound values) of the row with primary key ``key`` and ``values`` in column order."""
        present = tuple(value is not None for value in values)
        if all(present):
            return db.prepare(self.cql(present)), (*values, *key)
        return db.prepare(self.cql(present)), (*(value for value in values if value is not None), *key)


EVENT_ROW = RowWrite("customer_events", ("tenant", "customer_id", "month", "event_time", "event_id"),
                     ("event", "session_id", "decision_id", "attrs", "received_at"))
PAYMENT_ROW = RowWrite("customer_payments", ("tenant", "customer_id", "month", "event_time", "event_id"),
                       ("event", "txn_amount", "sku", "decision_id"))
GAME_ROW = RowWrite("customer_session_games", ("tenant", "customer_id", "session_id", "event_time", "event_id"),
                    ("won", "score"))

_WHERE_CUSTOMER = " WHERE tenant = ? AND customer_id = ?"
TOUCH = "UPDATE customer_features USING TIMESTAMP ? SET latest_event_time = ?" + _WHERE_CUSTOMER
LAUNCH = ("UPDATE customer_features USING TIMESTAMP ? SET latest_event_time = ?, signin_method = ?"
          + _WHERE_CUSTOMER)
LAUNCH_WITH_COUNTRY = ("UPDATE customer_features USING TIMESTAMP ? SET latest_event_time = ?, signin_method = ?, "
                       "country = ?" + _WHERE_CUSTOMER)
GAME_END = ("UPDATE customer_features USING TIMESTAMP ? SET latest_event_time = ?, last_game_session = ?"
            + _WHERE_CUSTOMER)


@dataclass(frozen=True)
class FeatureRow:
    latest_event_time: datetime
    country: Optional[str]
    signin_method: Optional[str]
    last_game_session: Optional[str]


class CustomerStore:
    def __init__(self, db: Database):
        self.db = db

    # --- ingestion ------------------------------------------------------------------------------

    def write(self, events: Sequence[CustomerEvent], now: datetime) -> None:
        """Write every row of the events (idempotent) in unlogged batches of one partition each;
        raises the first storage error.

        Of the feature-cell updates only those that can win are sent: per customer, the latest
        event, the latest app_launched (with and without a country) and the latest game_end.
        """
        log_rows: Dict[tuple, List[Tuple[Any, tuple]]] = {}
        for event in events:
            for partition, statement in self._rows_of(event, now):
                log_rows.setdefault(partition, []).append(statement)
        feature_rows: Dict[tuple, List[Tuple[Any, tuple]]] = {}
        for event in _feature_winners(events):
            feature_rows.setdefault((event.tenant, event.customer_id), []).append(self._feature_update(event))
        # The log first: a feature row never points at a session or week whose rows are missing.
        self._run(_batches(log_rows))
        self._run(_batches(feature_rows))

    def _rows_of(self, event: CustomerEvent, now: datetime) -> List[Tuple[tuple, Tuple[Any, tuple]]]:
        """(partition, (statement, values)) of the log rows of one event."""
        key = (event.tenant, event.customer_id)
        month = event.month
        rows = [(("events", *key, month), EVENT_ROW.of(self.db, (*key, month, event.event_time, event.event_id), (
            event.event, event.session_id, event.decision_id, event.attrs_json, now)))]
        if event.event in MONEY_EVENTS:
            rows.append((("payments", *key, month), PAYMENT_ROW.of(self.db, (
                *key, month, event.event_time, event.event_id), (
                event.event, event.txn_amount, event.sku, event.decision_id))))
        if event.event == "game_end":
            rows.append((("games", *key, event.session_id), GAME_ROW.of(self.db, (
                *key, event.session_id, event.event_time, event.event_id), (event.won, event.score))))
        return rows

    def _feature_update(self, event: CustomerEvent) -> Tuple[Any, tuple]:
        """The update of the customer's "latest" cells by one event, stamped with the event's time."""
        key = (event.tenant, event.customer_id)
        if event.event == "game_end":
            return self.db.prepare(GAME_END), (event.micros, event.event_time, event.session_id, *key)
        if event.event == "app_launched" and event.country:
            return self.db.prepare(LAUNCH_WITH_COUNTRY), (event.micros, event.event_time, event.signin_method or "",
                                                          event.country, *key)
        if event.event == "app_launched":
            return self.db.prepare(LAUNCH), (event.micros, event.event_time, event.signin_method or "", *key)
        return self.db.prepare(TOUCH), (event.micros, event.event_time, *key)

    def _run(self, statements: Iterable[Tuple[Any, tuple]]) -> List[List[Dict[str, Any]]]:
        return run_all(self.db.session, statements)

    # --- reading --------------------------------------------------------------------------------

    def feature_row(self, tenant: str, customer_id: str) -> Optional[FeatureRow]:
        row = self.db.execute(
            "SELECT latest_event_time, country, signin_method, last_game_session FROM customer_features"
            + _WHERE_CUSTOMER, (tenant, customer_id)).one()
        if row is None or row["latest_event_time"] is None:
            return None
        return FeatureRow(utc(row["latest_event_time"]), row["country"], row["signin_method"] or None,
                          row["last_game_session"])

    def purchases_async(self, tenant: str, customer_id: str, start: datetime, end: datetime) -> list:
        """Futures of the money events with time in (start, end], one per month bucket touched."""
        cql = ("SELECT event, txn_amount FROM customer_payments WHERE tenant = ? AND customer_id = ? AND month = ? "
               "AND event_time > ? AND event_time <= ?")
        return [self.db.execute_async(cql, (tenant, customer_id, month, start, end))
                for month in months_between(start, end)]

    def payments_between(self, tenant: str, customer_id: str, start: datetime, end: datetime) -> List[Dict[str, Any]]:
        """The customer's purchases, refunds and cancellations with time in (start, end]."""
        cql = ("SELECT event_id, event, event_time, txn_amount, sku FROM customer_payments WHERE tenant = ? "
               "AND customer_id = ? AND month = ? AND event_time > ? AND event_time <= ?")
        return rows_of([self.db.execute_async(cql, (tenant, customer_id, month, start, end))
                        for month in months_between(start, end)])

    def session_games_async(self, tenant: str, customer_id: str, session_id: str):
        return self.db.execute_async(
            "SELECT event_time, won FROM customer_session_games WHERE tenant = ? AND customer_id = ? "
            "AND session_id = ?", (tenant, customer_id, session_id))

    def events_between(self, tenant: str, customer_id: str, start: datetime, end: datetime) -> List[Dict[str, Any]]:
        """The customer's stored events with time in [start, end], oldest first (history for jobs)."""
        rows: List[Dict[str, Any]] = []
        for month in months_between(start, end):
            rows += self.db.execute(
                "SELECT * FROM customer_events WHERE tenant = ? AND customer_id = ? AND month = ? "
                "AND event_time >= ? AND event_time <= ?", (tenant, customer_id, month, start, end))
        for row in rows:
            row["event_time"] = utc(row["event_time"])
            row["attrs"] = json.loads(row["attrs"]) if row["attrs"] else {}
        return sorted(rows, key=lambda r: (r["event_time"], r["event_id"]))


def _batches(by_partition: Dict[tuple, List[Tuple[Any, tuple]]]) -> Iterator[Tuple[BatchStatement, tuple]]:
    """Unlogged batches of at most BATCH_ROWS statements and about BATCH_BYTES of values, the rows
    of each partition together (app/storage/batches.py)."""
    return packed(by_partition, BATCH_ROWS, BATCH_BYTES)


def _feature_winners(events: Sequence[CustomerEvent]) -> List[CustomerEvent]:
    """The events whose feature-cell updates can be the latest: per customer and kind of cell,
    every event at the latest time (ties are kept: Cassandra breaks them by value)."""
    kinds = (lambda e: True, lambda e: e.event == "app_launched",
             lambda e: e.event == "app_launched" and bool(e.country), lambda e: e.event == "game_end")
    by_customer: Dict[tuple, List[CustomerEvent]] = {}
    for event in events:
        by_customer.setdefault((event.tenant, event.customer_id), []).append(event)
    winners: Dict[tuple, CustomerEvent] = {}
    for group in by_customer.values():
        for kind in kinds:
            chosen = [e for e in group if kind(e)]
            if chosen:
                latest = max(e.event_time for e in chosen)
                winners.update({(e.tenant, e.event_id): e for e in chosen if e.event_time == latest})
    return list(winners.values())


def months_between(start: datetime, end: datetime) -> List[str]:
    """The 'YYYYMM' buckets from ``start`` to ``end`` inclusive, newest first."""
    first, last = month_bucket(start), month_bucket(end)
    year, month = int(last[:4]), int(last[4:])
    months = []
    while True:
        bucket = f"{year:04d}{month:02d}"
        months.append(bucket)
        if bucket <= first:
            return months
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)



def rows_of(futures: Iterable[Any]) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []
    for future in futures:
        rows += list(future.result())
    return rows
