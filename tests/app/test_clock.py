"""RFC 3339 date-times: what POST /events accepts as event_time (OpenAPI ``format: date-time``)."""
from datetime import datetime, timezone

import pytest

from app.clock import parse_rfc3339


@pytest.mark.parametrize("text, expected", [
    ("2026-11-24T10:15:00Z", datetime(2026, 11, 24, 10, 15, tzinfo=timezone.utc)),
    ("2026-11-24t10:15:00z", datetime(2026, 11, 24, 10, 15, tzinfo=timezone.utc)),
    ("2026-11-24 10:15:00+05:30", datetime(2026, 11, 24, 4, 45, tzinfo=timezone.utc)),
    ("2026-11-24T10:15:00.123456789-01:00", datetime(2026, 11, 24, 11, 15, 0, 123456, tzinfo=timezone.utc)),
    ("2026-11-24T10:15:00", datetime(2026, 11, 24, 10, 15, tzinfo=timezone.utc)),  # no offset: UTC
])
def test_rfc3339_date_times_are_read_as_utc(text, expected):
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", [
    "2024-01-01T12:99:00Z", "2024-01-01T24:00:00Z", "2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z",
    "2024-01-01T12:00:60Z", "2024-01-01T12:00:00+24:00", "2024-01-01T12:00:00+05:60",
    "20240101T120000Z", "2024-01-01T12:00Z", "2024-01-01", "2024-01-01T12:00:00.Z", "yesterday", "",
    "2024-01-01T12:00:00Z ", "9999-12-31T23:59:59-05:00",
])
def test_anything_else_is_not_a_date_time(text):
    assert parse_rfc3339(text) is None
