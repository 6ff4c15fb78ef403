"""Impression blocks against the real Cassandra: what goes into a block comes back as rows would."""
import secrets
from datetime import datetime, timedelta, timezone

import pytest

from app.decision_ids import DecisionToken
from app.service.impression_writer import ImpressionWriter
from app.storage.impressions import Impression
from app.storage import CountsStore, Event, EventStore
from app.storage import event_blocks
from app.storage.event_blocks import epoch_ms

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 3, 9, 59, 59, 123456, tzinfo=timezone.utc)  # microseconds: stored as milliseconds


def impressions(tenant: str, count: int, start: datetime = T0, step_ms: int = 7, slot: str = "home") -> list:
    """``count`` impressions, every third without city, customer or referrer; unicode in some fields."""
    events = []
    for i in range(count):
        bare = i % 3 == 0
        events.append(Event(
            tenant, "web", slot, start + timedelta(milliseconds=i * step_ms), f"imp:n{i:05d}", "impression",
            f"v1.decision-{i}", f"banner-{i % 4}", "global" if bare else "city:münchen",
            city=None if bare else ("münchen" if i % 2 else "पुणे"),
            customer_id=None if bare else f"cust-{i}-\u00e9\U0001F600",
            referrer=None if bare else "news\"letter'\\",
            policy="thompson" if i % 5 else "holdout",
            propensity=None if i % 7 == 0 else 1 / (i + 3),
        ))
    return events


def read_all(store: EventStore, tenant: str, slot: str = "home") -> list:
    return list(store.read_period(tenant, "web", slot, T0 - timedelta(hours=2), T0 + timedelta(hours=3)))


def write_blocks(db, events, **bounds) -> None:
    store = EventStore(db)
    for statement, _ in store.blocks(events, **bounds):
        db.session.execute(statement)


def write_rows(db, events) -> None:
    store = EventStore(db)
    for statement, _ in store.batches(events):
        db.session.execute(statement)


def name() -> str:
    return f"blk-{secrets.token_hex(4)}"


def test_a_block_reads_back_exactly_as_rows_do(db):
    # The same 600 impressions written as rows under one tenant and as blocks (small blocks, so
    # several per partition) under another must read back identical apart from the tenant.
    as_rows, as_blocks = name(), name()
    write_rows(db, impressions(as_rows, 600))
    write_blocks(db, impressions(as_blocks, 600), max_events=64)
    store = EventStore(db)
    expected = [{**row, "tenant": as_blocks} for row in read_all(store, as_rows)]
    got = read_all(store, as_blocks)
    assert len(got) == 600
    assert got == expected
    first = got[0]
    assert first["event_time"] == T0.replace(microsecond=123000)  # milliseconds, aware UTC, as the driver
    assert (first["city"], first["customer_id"], first["referrer"], first["propensity"]) == (None, None, None, None)
    assert got[1]["customer_id"] == "cust-1-\u00e9\U0001F600" and got[2]["city"] == "पुणे"
    assert got[1]["propensity"] == 1 / 4  # a double round-trips bit for bit


def test_rewriting_a_block_does_not_duplicate_and_regrouping_is_merged(db):
    tenant = name()
    events = impressions(tenant, 50)
    write_blocks(db, events)
    write_blocks(db, events)  # a retried write: the same key, stored once
    rows = db.execute("SELECT block_id FROM event_blocks WHERE tenant = ? AND platform = ? AND slot_id = ? AND hour = ?",
                      (tenant, "web", "home", events[0].hour))
    assert len(list(rows)) == 1
    write_blocks(db, events[10:30])  # a different grouping of events already stored (a redelivery)
    write_rows(db, events[40:])  # and some of them as single rows too
    got = read_all(EventStore(db), tenant)
    assert [row["event_id"] for row in got] == [e.event_id for e in events]


def test_a_flush_across_an_hour_boundary_writes_one_block_per_hour(db):
    tenant = name()
    events = impressions(tenant, 20, start=datetime(2026, 11, 3, 10, 59, 59, 950000, tzinfo=timezone.utc),
                         step_ms=10)  # 5 in 10:59, 15 in 11:00
    statements = EventStore(db).blocks(events)
    assert [count for _, count in statements] == [5, 15]
    write_blocks(db, events)
    for hour, expected in (("2026110310", 5), ("2026110311", 15)):
        rows = list(db.execute("SELECT event_count FROM event_blocks WHERE tenant = ? AND platform = ? "
                               "AND slot_id = ? AND hour = ?", (tenant, "web", "home", hour)))
        assert [r["event_count"] for r in rows] == [expected]
    store = EventStore(db)
    whole = list(store.read_period(tenant, "web", "home", datetime(2026, 11, 3, 10, 0, tzinfo=timezone.utc),
                                   datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)))
    assert [row["event_id"] for row in whole] == [e.event_id for e in events]
    # A window inside the hours keeps only the events inside it, to the millisecond, like rows.
    since, until = events[3].event_time, events[12].event_time
    inside = list(store.read_period(tenant, "web", "home", since, until))
    assert [row["event_id"] for row in inside] == [e.event_id for e in events[3:12]]


def test_blocks_are_cut_by_event_count_and_size(db):
    events = impressions(name(), 250, start=T0 + timedelta(seconds=1))  # all in one hour
    assert [n for _, n in EventStore(db).blocks(events, max_events=100)] == [100, 100, 50]
    by_bytes = [n for _, n in EventStore(db).blocks(events, max_bytes=10_000)]
    assert sum(by_bytes) == 250 and len(by_bytes) > 3
    assert all(len(event_blocks.block_json(events[:n])) < 10_000 + 400 for n in by_bytes)


def test_the_impression_writer_stores_one_block_per_flush_and_slot(db):
    tenant = name()
    writer = ImpressionWriter(CountsStore(db), EventStore(db), flush_interval_s=60)
    events = impressions(tenant, 300, start=datetime.now(timezone.utc).replace(minute=0, second=1))
    try:
        for event in events:
            token = DecisionToken(tenant, "web", "home", event.creative_id, ("global",), epoch_ms(event.event_time),
                                  event.event_id[len("imp:"):], event.city, event.referrer)
            assert writer.submit(Impression(token, event.decision_id, event.segment, event.customer_id, event.policy,
                                            event.propensity))
        assert writer.flush(timeout_s=20)
    finally:
        writer.close()
    hour = events[0].hour
    blocks = list(db.execute("SELECT event_count FROM event_blocks WHERE tenant = ? AND platform = ? "
                             "AND slot_id = ? AND hour = ?", (tenant, "web", "home", hour)))
    assert [b["event_count"] for b in blocks] == [300]
    now = datetime.now(timezone.utc)
    got = list(EventStore(db).read_period(tenant, "web", "home", now - timedelta(hours=2), now + timedelta(hours=1)))
    assert [row["event_id"] for row in got] == [e.event_id for e in events]
    counts = CountsStore(db).read_slot(tenant, "web", "home")
    assert sum(c.impressions for c in counts["global"].values()) == 300


def test_blocks_are_stored_deflated_and_plain_json_blocks_still_read(db):
    compressed, plain = name(), name()
    write_blocks(db, impressions(compressed, 200))
    stored = list(db.execute("SELECT events, packed FROM event_blocks WHERE tenant = ? AND platform = 'web' "
                             "AND slot_id = 'home' AND hour = ?", (compressed, T0.strftime("%Y%m%d%H"))))
    assert stored and all(r["events"] is None and r["packed"] for r in stored)
    assert sum(len(r["packed"]) for r in stored) < len(event_blocks.block_json(impressions(compressed, 200))) / 2
    # A block written as plain JSON in column events (the format before compression) reads the same.
    events = impressions(plain, 200)
    for hour in sorted({e.hour for e in events}):
        group = [e for e in events if e.hour == hour]
        db.execute("INSERT INTO event_blocks (tenant, platform, slot_id, hour, first_time, block_id, event_count, "
                   "events) VALUES (?, 'web', 'home', ?, ?, ?, ?, ?)",
                   (plain, hour, group[0].event_time, event_blocks.block_id(group), len(group),
                    event_blocks.block_json(group)))
    store = EventStore(db)
    assert [{**r, "tenant": compressed} for r in read_all(store, plain)] == read_all(store, compressed)
    assert len(read_all(store, plain)) == 200


def test_an_unknown_block_format_is_refused():
    with pytest.raises(event_blocks.BlockFormatError):
        event_blocks.unpack('{"v": 99, "columns": [], "rows": []}', "t", "web", "home")
    with pytest.raises(event_blocks.BlockFormatError):
        event_blocks.unpack("not json", "t", "web", "home")
    with pytest.raises(event_blocks.BlockFormatError):
        event_blocks.unpack(b"not deflated", "t", "web", "home")
