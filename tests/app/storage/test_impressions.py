"""An impression record becomes the counter increments and the event-log row the writer stores."""
from datetime import datetime, timezone

from app.decision_ids import DecisionToken
from app.storage.impressions import Impression
from app.storage import CountDelta, Event


def test_an_impression_counts_on_each_signed_segment_and_its_referrer():
    token = DecisionToken("t", "web", "home", "b1", ("global", "city:pune", "holdout"), 1_764_000_000_123, "n1",
                          city="pune", referrer="news")
    impression = Impression(token, "v1.x.y", "city:pune", policy="holdout", propensity=0.1)
    assert impression.deltas() == [
        CountDelta("t", "web", "home", "global", "b1", impressions=1),
        CountDelta("t", "web", "home", "city:pune", "b1", impressions=1),
        CountDelta("t", "web", "home", "holdout", "b1", impressions=1),
        CountDelta("t", "web", "home", "global", "b1", impressions=1, referrer="news"),
    ]
    assert Impression(DecisionToken("t", "web", "home", "b1", ("global",), 0, "n"), "v1", "global").deltas() == [
        CountDelta("t", "web", "home", "global", "b1", impressions=1)]


def test_an_impression_is_logged_at_its_decision_time_with_its_decision_id():
    token = DecisionToken("t", "web", "home", "b1", ("global", "city:pune"), 1_764_000_000_123, "n1", city="pune")
    impression = Impression(token, "v1.x.y", "city:pune", customer_id="u-7", policy="thompson", propensity=0.25)
    assert impression.event() == Event(
        tenant="t", platform="web", slot_id="home",
        event_time=datetime(2025, 11, 24, 16, 0, 0, 123000, tzinfo=timezone.utc), event_id="imp:n1",
        kind="impression", decision_id="v1.x.y", creative_id="b1", segment="city:pune", city="pune",
        customer_id="u-7", referrer=None, policy="thompson", propensity=0.25)
