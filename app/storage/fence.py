"""The version row that makes one partition's batch of writes all-or-nothing against other writers.

Tables ``stream_counts`` and ``revenue_state`` keep, in each slot's partition, a row
(kind = 'fence', name = '') whose ``version`` every writer moves by one in the same logged batch
as its writes, on the condition that it still holds the version the writer read:

    INSERT ... version = 1 IF NOT EXISTS              (the first batch of a partition)
    UPDATE ... SET version = v + 1 ... IF version = v  (every later one)

A batch whose condition fails changes nothing; its writer re-reads and tries again.
"""
from __future__ import annotations

from typing import Optional

from cassandra.query import BatchStatement, BatchType

from app.storage.db import Database

_KEY = "tenant = ? AND platform = ? AND slot_id = ? AND kind = 'fence' AND name = ''"


def fenced_batch(db: Database, table: str, pk: tuple, version: Optional[int]) -> BatchStatement:
    """A logged batch that applies only while the fence of ``pk`` (tenant, platform, slot_id) in
    ``table`` still holds ``version`` (None: the partition has no fence yet); add the writes to it."""
    batch = BatchStatement(batch_type=BatchType.LOGGED)
    if version is None:
        batch.add(db.prepare(f"INSERT INTO {table} (tenant, platform, slot_id, kind, name, version) "
                             "VALUES (?, ?, ?, 'fence', '', 1) IF NOT EXISTS").bind(pk))
    else:
        batch.add(db.prepare(f"UPDATE {table} SET version = ? WHERE {_KEY} IF version = ?")
                  .bind((version + 1, *pk, version)))
    return batch
