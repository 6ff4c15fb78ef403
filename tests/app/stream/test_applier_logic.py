"""The applier's arithmetic (pure): de-duplication within a group and absolute new totals."""
from __future__ import annotations

from app.storage.stream_totals import SlotTotals
from app.stream.applier import add_events, unique_unseen
from bandit import ArmCounts
from tests.app.stream.helpers import expected_totals, synthetic_events


def test_unique_unseen_drops_seen_ids_and_repeats_keeping_order():
    items = synthetic_events("acme", "hero", 6)
    doubled = [items[0], items[1], items[0], items[2], items[3], items[1]]
    fresh = unique_unseen(doubled, seen={items[2].event.event_id})
    assert [i.event.event_id for i in fresh] == [items[0].event.event_id, items[1].event.event_id,
                                                  items[3].event.event_id]


def test_add_events_writes_absolute_totals_on_top_of_what_was_applied():
    items = synthetic_events("acme", "hero", 30)
    current = SlotTotals(version=4, arms={("global", "a"): ArmCounts(100, 7)}, referrers={("mail", "b"): ArmCounts(5, 1)})
    arms, referrers = add_events(current, items)
    expected = expected_totals(items)
    for row, (impressions, clicks) in expected.items():
        base = current.arms.get(row, ArmCounts())
        assert arms[row] == ArmCounts(base.impressions + impressions, base.clicks + clicks)
    assert set(arms) == set(expected)  # only touched rows are written
    mail_b = [i for i in items if i.event.referrer == "mail" and i.event.creative_id == "b"]
    assert referrers[("mail", "b")] == ArmCounts(5 + sum(i.event.kind == "impression" for i in mail_b),
                                                  1 + sum(i.event.kind == "click" for i in mail_b))
