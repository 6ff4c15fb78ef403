"""Days of a report and --since dates in the slot's time zone (app.insights.timeline, app.clock)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.clock import parse_window
from app.insights.timeline import tally
from app.storage.history import LoggedEvent

UTC, KOLKATA, BERLIN = timezone.utc, ZoneInfo("Asia/Kolkata"), ZoneInfo("Europe/Berlin")


def impression(moment: datetime, creative_id="a") -> LoggedEvent:
    fields = dict.fromkeys(LoggedEvent.__dataclass_fields__)
    fields.update(kind="impression", event_time=moment, creative_id=creative_id, event_id=f"i:{moment.timestamp()}",
                  policy="thompson", segment="global")
    return LoggedEvent(**fields)


def test_report_days_are_days_of_the_slot_zone():
    # 18:00 and 19:00 UTC on one UTC day are 23:30 and 00:30 IST: two IST days.
    events = [impression(datetime(2026, 11, 23, 18, tzinfo=UTC)), impression(datetime(2026, 11, 23, 19, tzinfo=UTC))]
    start, end = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC)
    in_utc = tally(events, start, end, "day")
    in_ist = tally(events, start, end, "day", zone=KOLKATA)
    assert [(s.isoformat(), n) for s, _, n, *_ in in_utc.series() if n] == [("2026-11-23T00:00:00+00:00", 2)]
    assert [(s.isoformat(), n) for s, _, n, *_ in in_ist.series() if n] == [
        ("2026-11-23T00:00:00+05:30", 1), ("2026-11-24T00:00:00+05:30", 1)]
    assert sorted(in_ist.decided_by_day) == [datetime(2026, 11, 23).date(), datetime(2026, 11, 24).date()]


def test_days_across_daylight_saving_are_local_midnights():
    start, end = datetime(2026, 10, 23, tzinfo=UTC), datetime(2026, 10, 28, tzinfo=UTC)
    starts = tally([], start, end, "day", zone=BERLIN).bucket_starts()
    assert [s.strftime("%m-%d %H:%M") for s in starts] == ["10-23 00:00", "10-24 00:00", "10-25 00:00", "10-26 00:00",
                                                           "10-27 00:00", "10-28 00:00"]
    assert starts[3].astimezone(UTC) - starts[2].astimezone(UTC) == timedelta(hours=25)  # clocks went back


def test_since_date_is_local_midnight_of_the_zone():
    now = datetime(2026, 11, 25, tzinfo=UTC)
    assert parse_window("2026-11-23", None, now, zone=KOLKATA)[0] == datetime(2026, 11, 22, 18, 30, tzinfo=UTC)
    assert parse_window("2026-11-23", None, now)[0] == datetime(2026, 11, 23, tzinfo=UTC)
    assert parse_window("2026-11-23T00:00+00:00", None, now, zone=KOLKATA)[0] == datetime(2026, 11, 23, tzinfo=UTC)
    assert parse_window("2d", None, now, zone=KOLKATA)[0] == now - timedelta(days=2)
