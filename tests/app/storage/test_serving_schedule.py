"""When a creative may run: flights and hours in the slot's zone (pure logic of app.storage.catalog)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.storage.catalog import (ENDED, NOT_STARTED, OTHER_CITIES, OUTSIDE_HOURS, PAUSED, SERVING, Creative,
                                 SlotConfig, zone_of)
from app.storage.frequency import window_start

UTC = timezone.utc
KOLKATA, BERLIN = ZoneInfo("Asia/Kolkata"), ZoneInfo("Europe/Berlin")


def creative(cid="a", **kw) -> Creative:
    return Creative(creative_id=cid, image_url=None, payload=None, active=kw.pop("active", True),
                    cities=frozenset(kw.pop("cities", ())), **kw)


def slot(*creatives, zone=UTC) -> SlotConfig:
    return SlotConfig("t", "web", "home", creatives=tuple(creatives), zone=zone)


def served(config: SlotConfig, moment: datetime, city=None):
    return [c.creative_id for c in config.eligible_at(city, moment)]


def test_flight_opens_at_starts_at_and_closes_at_ends_at():
    start, end = datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 25, 10, tzinfo=UTC)
    config = slot(creative("always"), creative("flight", starts_at=start, ends_at=end))
    second = timedelta(seconds=1)
    assert served(config, start - second) == ["always"]
    assert served(config, start) == ["always", "flight"]
    assert served(config, end - second) == ["always", "flight"]
    assert served(config, end) == ["always"]  # ends_at is the first moment it is no longer shown
    flight = config.creative("flight")
    assert flight.status(None, start - second, UTC) == NOT_STARTED
    assert flight.status(None, end, UTC) == ENDED


def test_hours_across_midnight_in_kolkata_follow_the_half_hour_offset():
    # 22:00-01:59 IST is 16:30-20:29 UTC: the creative's day wraps around midnight of the slot's zone.
    config = slot(creative("late", hours=frozenset({22, 23, 0, 1})), zone=KOLKATA)
    day = datetime(2026, 11, 23, tzinfo=UTC)
    shown = [minute for minute in range(0, 24 * 60, 15) if served(config, day + timedelta(minutes=minute))]
    assert shown[0] == 16 * 60 + 30 and shown[-1] == 20 * 60 + 15  # 16:30 .. 20:15 UTC, every quarter
    assert len(shown) == 16  # 4 hours of quarters, nothing else
    assert config.creative("late").status(None, day + timedelta(hours=12), KOLKATA) == OUTSIDE_HOURS
    assert served(slot(creative("late", hours=frozenset({22, 23, 0, 1}))), day + timedelta(hours=17)) == []  # UTC


def test_hours_in_berlin_follow_daylight_saving():
    # Hour 9 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    config = slot(creative("morning", hours=frozenset({9})), zone=BERLIN)
    winter, summer = datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC)
    assert served(config, winter + timedelta(hours=8, minutes=30)) == ["morning"]
    assert served(config, winter + timedelta(hours=7, minutes=30)) == []
    assert served(config, summer + timedelta(hours=7, minutes=30)) == ["morning"]
    assert served(config, summer + timedelta(hours=8, minutes=30)) == []
    # 2026-10-25: clocks go back at 03:00 CEST, so 02:00-02:59 happens twice (00:00 and 01:00 UTC).
    night = slot(creative("two", hours=frozenset({2})), zone=BERLIN)
    fall = datetime(2026, 10, 25, tzinfo=UTC)
    assert [h for h in range(24) if served(night, fall + timedelta(hours=h, minutes=30))] == [0, 1]
    # 2026-03-29: clocks go forward at 02:00, hour 2 does not exist that day.
    spring = datetime(2026, 3, 29, tzinfo=UTC)
    assert [h for h in range(24) if served(night, spring + timedelta(hours=h, minutes=30))] == []


def test_status_names_the_first_reason_a_creative_is_not_shown():
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert creative(active=False, hours=frozenset({3})).status(None, now, UTC) == PAUSED
    assert creative(cities={"pune"}).status("delhi", now, UTC) == OTHER_CITIES
    assert creative(cities={"pune"}).status("pune", now, UTC) == SERVING
    assert creative(hours=frozenset({12})).status(None, now, UTC) == SERVING


def test_unscheduled_slots_return_the_cached_city_set():
    config = slot(creative("a"), creative("b", cities={"pune"}))
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert config.eligible_at("pune", now) is config.eligible("pune")


def test_unknown_zone_is_utc_with_a_warning():
    assert zone_of(None) == (UTC, None)
    assert zone_of("Asia/Kolkata") == (KOLKATA, None)
    zone, warning = zone_of("Mars/Olympus_Mons")
    assert zone == UTC and "Mars/Olympus_Mons" in warning


def test_frequency_windows_are_aligned_on_the_epoch():
    moment = datetime(2026, 11, 23, 17, 45, 12, tzinfo=UTC)
    assert window_start(moment, 86400) == datetime(2026, 11, 23, tzinfo=UTC)
    assert window_start(moment, 3600) == datetime(2026, 11, 23, 17, tzinfo=UTC)
    assert window_start(moment, 600) == datetime(2026, 11, 23, 17, 40, tzinfo=UTC)
