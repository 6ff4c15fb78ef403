"""Pure logic of the period tallies (no storage): buckets, shares, holdout attribution, customers, periods."""
from datetime import datetime, timedelta, timezone

import pytest

from app.clock import MomentError, parse_moment
from app.insights.best import holdout_counts, lift_from_counts
from app.insights.timeline import choose_bucket, tally
from app.storage.event_log import hours_between
from app.storage.history import LoggedEvent
from bandit import ArmCounts

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def event(minutes, kind, creative, nonce, policy="thompson", city="pune", customer=None, segment="city:pune"):
    prefix = "imp" if kind == "impression" else "click"
    return LoggedEvent(T0 + timedelta(minutes=minutes), f"{prefix}:{nonce}", kind, creative, segment, city, customer,
                       policy if kind == "impression" else None)


def test_bucket_choice_and_hour_partitions():
    assert choose_bucket(T0, T0 + timedelta(days=3)) == "hour"
    assert choose_bucket(T0, T0 + timedelta(days=3, seconds=1)) == "day"
    assert choose_bucket(T0, T0 + timedelta(days=30), "hour") == "hour"
    with pytest.raises(ValueError, match="bucket must be auto, hour or day"):
        choose_bucket(T0, T0, "week")
    assert hours_between(T0 + timedelta(minutes=30), T0 + timedelta(hours=2)) == ["2026112010", "2026112011"]
    assert hours_between(T0, T0 + timedelta(hours=2, minutes=1)) == ["2026112010", "2026112011", "2026112012"]


def test_series_has_every_bucket_with_shares_and_click_through():
    events = [event(5, "impression", "a", 1), event(6, "click", "a", 1), event(7, "impression", "b", 2),
              event(8, "impression", "a", 3), event(125, "impression", "b", 4)]
    period = tally(events, T0, T0 + timedelta(hours=3))
    assert (period.bucket, period.impressions, period.clicks, period.events) == ("hour", 4, 1, 5)
    rows = {(start.hour, creative): (imp, clicks, share, ctr) for start, creative, imp, clicks, share, ctr
            in period.series()}
    assert rows[(10, "a")] == (2, 1, pytest.approx(2 / 3), 0.5)
    assert rows[(10, "b")] == (1, 0, pytest.approx(1 / 3), 0.0)
    assert rows[(11, "a")] == (0, 0, None, None)  # an empty hour is still a bucket
    assert rows[(12, "b")] == (1, 0, 1.0, 0.0) and rows[(12, "a")] == (0, 0, 0.0, None)
    assert period.by_city == {"pune": ArmCounts(4, 1)}


def test_a_click_belongs_to_the_policy_of_its_impression():
    events = [event(1, "impression", "a", "h1", policy="holdout"), event(2, "impression", "a", "t1"),
              event(3, "impression", "b", "t2"), event(4, "click", "a", "h1"), event(5, "click", "b", "t2"),
              event(6, "click", "a", "early", segment="holdout"),  # its impression was before the period
              event(7, "click", "b", "h2"), event(7, "impression", "b", "h2", policy="holdout")]  # same ms
    treated, holdout = tally(events, T0, T0 + timedelta(hours=1)).holdout_split()
    assert (treated, holdout) == (ArmCounts(2, 1), ArmCounts(2, 3))


def test_customers_keep_their_latest_impression():
    events = [event(1, "impression", "a", 1, customer="u1", city="pune"),
              event(9, "impression", "b", 2, customer="u1", city="delhi", segment="global"),
              event(10, "click", "b", 2, customer="u1", city="delhi"),
              event(11, "click", "a", 3, customer="u2")]
    customers = tally(events, T0, T0 + timedelta(hours=1)).customers
    u1 = customers["u1"]
    assert (u1.city, u1.segment, u1.impressions, u1.clicks) == ("delhi", "global", 2, 1)
    assert u1.last_seen == T0 + timedelta(minutes=9)
    assert customers["u2"].impressions == 0


def test_holdout_counts_are_global_minus_holdout():
    assert holdout_counts({"global": {"a": ArmCounts(10, 1)}}) is None
    split = holdout_counts({"global": {"a": ArmCounts(100, 9), "b": ArmCounts(50, 2)},
                            "holdout": {"a": ArmCounts(20, 1), "b": ArmCounts(10, 1)}})
    assert split == {"bandit": ArmCounts(120, 9), "holdout": ArmCounts(30, 2)}
    lift = lift_from_counts(split["bandit"], split["holdout"])
    assert lift.lift == pytest.approx((9 / 120) / (2 / 30) - 1)


def test_moments_are_dates_times_or_ages():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
    assert parse_moment("7d", "--since", now) == now - timedelta(days=7)
    assert parse_moment("90m", "--since", now) == now - timedelta(minutes=90)
    assert parse_moment("2026-11-01", "--since", now) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_moment("2026-11-01T08:00+02:00", "--since", now) == datetime(2026, 11, 1, 6, tzinfo=timezone.utc)
    with pytest.raises(MomentError, match="--until must be"):
        parse_moment("last week", "--until", now)
