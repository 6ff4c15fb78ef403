"""Pure parts of the customer store: batch bounds, month buckets, which feature updates are sent."""
from datetime import datetime, timezone

from app.service.event_input import parse_all
from app.storage.customers import BATCH_BYTES, BATCH_ROWS, _batches, _feature_winners, months_between

STATEMENT = "INSERT INTO t (a, b) VALUES (%s, %s)"


def sizes(batches):
    return [len(batch._statements_and_parameters) for batch, _ in batches]


def test_batches_are_bounded_in_rows_and_bytes_and_keep_partitions_together():
    rows = 2 * BATCH_ROWS + 20
    small = {("p1",): [(STATEMENT, (i, "x")) for i in range(rows)], ("p2",): [(STATEMENT, (0, "y"))]}
    batches = list(_batches(small))
    assert sizes(batches) == [BATCH_ROWS, BATCH_ROWS, 21]
    last = [text for _, text, _ in batches[2][0]._statements_and_parameters][-2:]
    assert last[0].endswith(f"({rows - 1}, 'x')") and last[1].endswith("(0, 'y')")  # partition after partition
    big_value = "z" * 4000
    per_batch = BATCH_BYTES // 4001
    large = {("p",): [(STATEMENT, (i, big_value)) for i in range(2 * per_batch + 1)]}
    assert sizes(_batches(large)) == [per_batch, per_batch, 1]


def test_months_between_spans_year_ends():
    start = datetime(2025, 11, 28, tzinfo=timezone.utc)
    assert months_between(start, datetime(2026, 1, 3, tzinfo=timezone.utc)) == ["202601", "202512", "202511"]
    assert months_between(start, start) == ["202511"]


def test_only_updates_that_can_be_latest_are_sent():
    def event(event_id, kind, minute, customer="c1", **fields):
        return {"event_id": event_id, "event": kind, "customer_id": customer, "session_id": "s",
                "event_time": f"2026-11-02T10:{minute:02d}:00Z", **fields}

    items = [event("l1", "app_launched", 1, country="DE"), event("l2", "app_launched", 2),
             event("g1", "game_end", 3, won=True), event("g2", "game_end", 4, won=False),
             event("p1", "purchase", 5, txn_amount=1.0), event("t1", "game_start", 5),
             event("o1", "offer_shown", 0, customer="c2")]
    valid, _ = parse_all("acme", items, lambda d: True)
    chosen = sorted(e.event_id for e in _feature_winners([e for _, e in valid]))
    # latest of all (p1 and t1 tie), latest launch (l2), latest launch with country (l1), latest game_end (g2)
    assert chosen == ["g2", "l1", "l2", "o1", "p1", "t1"]
