"""Impression blocks: the events of one write of one event-log partition, packed into one row.

A busy slot gets hundreds of impressions a second. Written one row each, every impression costs
Cassandra a row with a dozen cells to write, compact and read. The impression writer therefore packs the impressions of one flush
and one (tenant, platform, slot, hour) partition into a single row of table ``event_blocks``:

    {"v": 1, "columns": ["event_time", "event_id", ...], "rows": [[1764000000123, "imp:...", ...], ...]}

deflated with zlib into the column ``packed`` (``events`` holds the plain JSON of blocks written
before blocks were compressed; readers take either). Measured with the embedded Cassandra under
the benchmark's load, storing these blocks cost Cassandra more CPU than everything else the service
asks of it, in proportion to their bytes: decision ids are most of a block and repeat most of their
bytes from one impression to the next, so a block deflates to about a quarter of its JSON.

``event_time`` is stored as milliseconds since the epoch (the precision of a CQL timestamp) and
comes back exactly as the driver returns a timestamp column, so a reader cannot tell a block's
events from rows of table ``events``. The key of a block is derived from its content (first event
time plus a digest of its event ids): writing the same block again overwrites it, and a different
grouping of the same events (a redelivered stream poll) is removed by the readers, which keep one
event per (event_time, event_id) as the primary key of ``events`` does.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from datetime import datetime, timedelta, timezone
from typing import Dict, Iterable, List, Sequence, Tuple, Union

FORMAT_VERSION = 1
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)
# What a block stores of each event; tenant, platform, slot and hour are the partition key.
BLOCK_COLUMNS = ("event_time", "event_id", "kind", "decision_id", "creative_id", "segment", "city",
                 "customer_id", "referrer", "policy", "propensity")
PARTITION_COLUMNS = ("tenant", "platform", "slot_id")
# A block is one INSERT, not a batch, so Cassandra's batch size limits do not apply; a bound keeps
# single cells small for compaction and for readers (a flush holds at most 1,000 impressions).
BLOCK_MAX_EVENTS = 1000
BLOCK_MAX_BYTES = 512 * 1024


class BlockFormatError(ValueError):
    """A stored block that this version cannot read (unknown format or damaged JSON)."""


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated as the driver does when it writes a timestamp
    (a naive moment is UTC). Integer arithmetic on the difference: exact, and a few times faster
    than building a time tuple."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // _ONE_MS


def block_id(events: Sequence) -> str:
    """A digest of the events' ids in order: the same block written twice gets the same key."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(event.event_id.encode("utf-8"))
        digest.update(b"\0")
    return f"{len(events)}:{digest.hexdigest()[:32]}"


def pack(events: Sequence) -> bytes:
    """A block holding ``events``, as stored: its JSON text (``block_json``) deflated (zlib level 1).

    Level 1 is fast and shrinks the JSON of a block to about a quarter, which Cassandra then writes,
    flushes and compacts."""
    return zlib.compress(block_json(events).encode("utf-8"), 1)


def block_json(events: Sequence) -> str:
    """The JSON text of a block holding ``events`` (objects with the BLOCK_COLUMNS attributes)."""
    rows = [[epoch_ms(e.event_time), e.event_id, e.kind, e.decision_id, e.creative_id, e.segment, e.city,
             e.customer_id, e.referrer, e.policy, e.propensity] for e in events]
    return json.dumps({"v": FORMAT_VERSION, "columns": BLOCK_COLUMNS, "rows": rows},
                      ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def unpack(stored: Union[str, bytes], tenant: str, platform: str, slot_id: str) -> List[Dict]:
    """The events of a block as event-log rows (the columns of ``SELECT_PARTITION``).

    ``stored`` is a block as ``pack`` writes it (bytes, column ``packed``) or its JSON text (column
    ``events``, as blocks were written before they were compressed).

    ``event_time`` is an aware UTC datetime of whole milliseconds, the value the driver gives for
    the same timestamp column (made aware as ``EventStore.read_partitions`` does).
    """
    try:
        text = zlib.decompress(stored).decode("utf-8") if isinstance(stored, (bytes, bytearray)) else stored
        block = json.loads(text)
        if block.get("v") != FORMAT_VERSION:
            raise BlockFormatError(f"unknown event block format {block.get('v')!r}")
        columns, rows = block["columns"], block["rows"]
    except (ValueError, AttributeError, KeyError, TypeError, zlib.error) as error:
        raise BlockFormatError(f"unreadable event block: {error}") from None
    time_index = columns.index("event_time")
    events = []
    for values in rows:
        row = dict(zip(columns, values))
        row["event_time"] = EPOCH + timedelta(milliseconds=values[time_index])
        events.append({"tenant": tenant, "platform": platform, "slot_id": slot_id,
                       **{c: row.get(c) for c in BLOCK_COLUMNS}})
    return events


def aware(moment: datetime) -> datetime:
    """A naive UTC datetime (as the driver returns timestamps) made aware."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def to_millisecond(moment: datetime) -> datetime:
    """``moment`` (naive means UTC) truncated to whole milliseconds, as Cassandra compares it."""
    return aware(moment).replace(microsecond=moment.microsecond // 1000 * 1000)


def split(events: Iterable, max_events: int = BLOCK_MAX_EVENTS,
          max_bytes: int = BLOCK_MAX_BYTES) -> List[Tuple[tuple, List]]:
    """Group events by partition (tenant, platform, slot, hour), then cut each group into blocks of
    at most ``max_events`` events and about ``max_bytes`` of JSON; in order of first appearance."""
    by_partition: Dict[tuple, List] = {}
    for event in events:
        by_partition.setdefault((event.tenant, event.platform, event.slot_id, event.hour), []).append(event)
    blocks = []
    for partition, group in by_partition.items():
        current, size = [], 0
        for event in group:
            event_size = _json_size(event)
            if current and (len(current) == max_events or size + event_size > max_bytes):
                blocks.append((partition, current))
                current, size = [], 0
            current.append(event)
            size += event_size
        blocks.append((partition, current))
    return blocks


def merge_rows(rows: Iterable[Dict]) -> List[Dict]:
    """One row per (event_time, event_id), the first seen kept, in the clustering order of ``events``.

    Python orders strings by code point, which is the order of their UTF-8 bytes: the same order
    Cassandra gives ``event_id`` within one ``event_time``.
    """
    unique: Dict[tuple, Dict] = {}
    for row in rows:
        unique.setdefault((row["event_time"], row["event_id"]), row)
    return [unique[key] for key in sorted(unique)]


def _json_size(event) -> int:
    """About the bytes of an event in a block: its strings' characters plus 64 for numbers, quotes
    and commas (characters, not UTF-8 bytes: the bound is a size class, not a limit to the byte)."""
    strings = (event.event_id, event.kind, event.decision_id, event.creative_id, event.segment, event.city,
               event.customer_id, event.referrer, event.policy)
    return 64 + sum(len(s) for s in strings if s)
