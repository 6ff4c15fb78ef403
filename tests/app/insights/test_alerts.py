"""Which failing decisions a report warns about: the slot gone, nothing active, a city without a
creative, every flight ended, nothing inside its flight and hours right now (in the slot's zone)."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from app.insights.alerts import decision_failures
from app.storage.catalog import Creative, SlotConfig

UTC = timezone.utc
KOLKATA = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # 17:30 in Kolkata


def creative(cid="a", active=True, cities=frozenset(), **kw) -> Creative:
    return Creative(cid, None, None, active, frozenset(cities), **kw)


def slot(*creatives, zone=UTC, timezone_name=None) -> SlotConfig:
    return SlotConfig("t", "web", "home", creatives=tuple(creatives), zone=zone, timezone=timezone_name)


def test_a_slot_that_serves_has_no_alert():
    assert decision_failures(slot(creative("a", hours=frozenset({12}))), ["pune"], NOW) == []


def test_gone_and_inactive_slots():
    assert decision_failures(None) == ["the slot no longer exists: its decisions fail"]
    assert decision_failures(slot(creative(active=False)), [], NOW) == ["decisions fail: the slot has no active creative"]


def test_a_city_with_traffic_and_no_creative_for_it():
    config = slot(creative("a", cities={"delhi"}))
    assert decision_failures(config, ["pune", "delhi"], NOW) == ["decisions fail in pune: no creative is eligible there"]


def test_every_flight_ended_names_the_last_end_in_the_slot_zone():
    config = slot(creative("a", ends_at=datetime(2026, 11, 30, tzinfo=UTC)),
                  creative("b", ends_at=datetime(2026, 12, 1, 18, 0, tzinfo=UTC)),
                  creative("c", active=False), zone=KOLKATA, timezone_name="Asia/Kolkata")
    assert decision_failures(config, ["pune"], NOW) == [
        "decisions fail: the flight of every active creative has ended (the last on 2026-12-01 23:30 Asia/Kolkata)"]


def test_outside_the_hours_of_every_creative_right_now_in_the_slot_zone():
    morning = creative("a", hours=frozenset({9, 10, 11}))  # 17:30 in Kolkata: outside
    config = slot(morning, zone=KOLKATA, timezone_name="Asia/Kolkata")
    assert decision_failures(config, ["pune"], NOW) == [
        "decisions fail in pune now: no creative eligible there is inside its flight and hours at 17:30 Asia/Kolkata"]
    assert decision_failures(config, [], NOW) == [
        "decisions fail now: no creative is inside its flight and hours at 17:30 Asia/Kolkata"]
    assert decision_failures(config, ["pune"], datetime(2026, 12, 2, 4, 0, tzinfo=UTC)) == []  # 09:30 there
    not_started = slot(creative("a", starts_at=datetime(2026, 12, 3, tzinfo=UTC)))
    assert decision_failures(not_started, [], NOW) == [
        "decisions fail now: no creative is inside its flight and hours at 12:00 UTC"]
