"""Marked counter batches against the real Cassandra: a batch and its mark land together, and
``settle`` brings a batch that landed never, once or twice to exactly once."""
import pytest

from app.storage import CountDelta, CountsStore

pytestmark = pytest.mark.integration


def slot_clicks(counts, tenant):
    return {cid: c.clicks for cid, c in counts.read_slot(tenant.name, "web", "home").get("global", {}).items()}


def batch_of(counts, tenant, clicks=1):
    deltas = [CountDelta(tenant.name, "web", "home", "global", "a", clicks=clicks),
              CountDelta(tenant.name, "web", "home", "global", "a", clicks=clicks, referrer="ads")]
    [batch] = counts.marked_batches(deltas, prefix="test")
    return batch


@pytest.mark.parametrize("landed", [0, 1, 2, 3])
def test_settle_makes_a_batch_count_exactly_once(db, tenant, landed):
    counts = CountsStore(db)
    batch = batch_of(counts, tenant)
    for _ in range(landed):  # what a write of unknown outcome may have done
        db.run(counts.statement(batch))
    assert counts.applied(batch) == landed
    assert counts.settle(batch) == landed
    assert counts.applied(batch) == 1 and slot_clicks(counts, tenant) == {"a": 1}
    assert counts.read_referrers(tenant.name, "web", "home")["ads"]["a"].clicks == 1
    assert counts.settle(batch) == 1 and slot_clicks(counts, tenant) == {"a": 1}  # settling again changes nothing


def test_batches_of_several_slots_get_a_mark_each_and_a_forgotten_mark_reads_zero(db, tenant):
    counts = CountsStore(db)
    deltas = [CountDelta(tenant.name, "web", slot, "global", "a", impressions=1) for slot in ("home", "cart")]
    batches = counts.marked_batches(deltas)
    assert len(batches) == 2 and len({b.mark for b in batches}) == 2
    for batch in batches:
        db.run(counts.statement(batch))
        assert counts.applied(batch) == 1
        counts.forget(batch)
        assert counts.applied(batch) == 0
    assert counts.read_slot(tenant.name, "web", "cart")["global"]["a"].impressions == 1
