"""The event log of a period, summed: per time bucket and creative, per city, per policy, per customer.

One pass over the events fills a ``PeriodTally``; everything a report shows over time is read from it.
A click counts in the bucket, city and policy of its own row (the click's time, the decision's city).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Dict, Iterable, List, Optional, Tuple

from app.storage.history import LoggedEvent
from bandit import ArmCounts

HOLDOUT = "holdout"
BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
AUTO_DAY_AFTER = timedelta(days=3)  # periods longer than this are shown per day


def choose_bucket(start: datetime, end: datetime, bucket: str = "auto") -> str:
    """'hour' or 'day'; 'auto' picks hours for periods up to three days, days beyond."""
    if bucket != "auto":
        if bucket not in BUCKETS:
            raise ValueError(f"bucket must be auto, hour or day, but {bucket!r} is given")
        return bucket
    return "day" if end - start > AUTO_DAY_AFTER else "hour"


def bucket_start(moment: datetime, bucket: str, zone: tzinfo = timezone.utc) -> datetime:
    """The start of the hour or day of ``zone`` that holds moment, as a time of ``zone``. In Asia/Kolkata
    a day starts at 18:30 UTC and an hour at half past a UTC hour."""
    local = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0) if bucket == "day" else local


def next_bucket(start: datetime, bucket: str, zone: tzinfo = timezone.utc) -> datetime:
    """The start of the bucket after the one that starts at ``start``: the next local midnight for days
    (23 or 25 hours away when daylight saving begins or ends), one real hour later for hours."""
    if bucket == "day":
        return bucket_start(start.replace(hour=12) + BUCKETS["day"], "day", zone)
    return (start.astimezone(timezone.utc) + BUCKETS["hour"]).astimezone(zone)


@dataclass
class CustomerSeen:
    """The latest impression of one customer in the period."""

    customer_id: str
    last_seen: datetime
    city: Optional[str]
    segment: Optional[str]
    impressions: int = 0
    clicks: int = 0


@dataclass
class PeriodTally:
    """Counts of a slot's events in [start, end), summed several ways."""

    start: datetime
    end: datetime
    bucket: str
    by_bucket: Dict[datetime, Dict[str, ArmCounts]] = field(default_factory=dict)
    by_city: Dict[str, ArmCounts] = field(default_factory=dict)
    by_policy: Dict[str, ArmCounts] = field(default_factory=dict)
    by_creative: Dict[str, ArmCounts] = field(default_factory=dict)
    customers: Dict[str, CustomerSeen] = field(default_factory=dict)
    # Impressions per local day (in ``zone``), per segment that decided them, per creative: saved traffic.
    decided_by_day: Dict[date, Dict[str, Dict[str, int]]] = field(default_factory=dict)
    zone: tzinfo = timezone.utc
    events: int = 0
    _holdout_nonces: set = field(default_factory=set, repr=False)
    _pending_clicks: list = field(default_factory=list, repr=False)  # nonces of clicks of unknown policy

    def add(self, event: LoggedEvent) -> None:
        """Count one event everywhere it belongs."""
        one = ArmCounts(1, 0) if event.kind == "impression" else ArmCounts(0, 1)
        self.events += 1
        bucket = self.by_bucket.setdefault(bucket_start(event.event_time, self.bucket, self.zone), {})
        _add(bucket, event.creative_id, one)
        _add(self.by_creative, event.creative_id, one)
        _add(self.by_city, event.city or "(none)", one)
        policy = self._policy(event)
        if policy is not None:
            _add(self.by_policy, policy, one)
        if event.customer_id:
            self._add_customer(event, one)
        if event.kind == "impression":
            day = self.decided_by_day.setdefault(event.event_time.astimezone(self.zone).date(), {})
            by_creative = day.setdefault(event.segment or "global", {})
            by_creative[event.creative_id] = by_creative.get(event.creative_id, 0) + 1

    def _policy(self, event: LoggedEvent) -> Optional[str]:
        """The policy of the decision behind an event. A click row carries no policy: it is 'holdout'
        when the click counted in the holdout segment or its impression (same nonce) was a holdout one;
        None while that impression may still come (a click and its impression can share a millisecond)."""
        nonce = event.event_id.split(":", 1)[-1]
        if event.kind == "impression":
            if event.policy == HOLDOUT:
                self._holdout_nonces.add(nonce)
            return event.policy or "thompson"
        if event.policy or event.segment == HOLDOUT or nonce in self._holdout_nonces:
            return event.policy or HOLDOUT
        self._pending_clicks.append(nonce)
        return None

    def _add_customer(self, event: LoggedEvent, one: ArmCounts) -> None:
        seen = self.customers.get(event.customer_id)
        if seen is None:
            seen = self.customers[event.customer_id] = CustomerSeen(event.customer_id, event.event_time,
                                                                     event.city, event.segment)
        if event.kind == "impression" and event.event_time >= seen.last_seen:
            seen.last_seen, seen.city, seen.segment = event.event_time, event.city, event.segment
        seen.impressions += one.impressions
        seen.clicks += one.clicks

    @property
    def impressions(self) -> int:
        return sum(c.impressions for c in self.by_creative.values())

    @property
    def clicks(self) -> int:
        return sum(c.clicks for c in self.by_creative.values())

    def bucket_starts(self) -> List[datetime]:
        """Every bucket of the period, including empty ones, oldest first, as times of the slot's zone."""
        moment, starts = bucket_start(self.start, self.bucket, self.zone), []
        while moment < self.end:
            starts.append(moment)
            moment = next_bucket(moment, self.bucket, self.zone)
        return starts

    def series(self) -> List[Tuple[datetime, str, int, int, Optional[float], Optional[float]]]:
        """(bucket start, creative, impressions, clicks, traffic share, click-through) for every bucket
        and every creative seen in the period; share and click-through are None without impressions."""
        creatives = sorted(self.by_creative)
        rows = []
        for start in self.bucket_starts():
            counts = self.by_bucket.get(start, {})
            total = sum(c.impressions for c in counts.values())
            for creative_id in creatives:
                c = counts.get(creative_id, ArmCounts())
                share = c.impressions / total if total else None
                ctr = min(c.clicks, c.impressions) / c.impressions if c.impressions else None
                rows.append((start, creative_id, c.impressions, c.clicks, share, ctr))
        return rows

    def holdout_split(self) -> Tuple[ArmCounts, ArmCounts]:
        """(bandit counts, holdout counts) of the period, split by the logged policy of each decision."""
        late_holdout = sum(1 for nonce in self._pending_clicks if nonce in self._holdout_nonces)
        holdout = self.by_policy.get(HOLDOUT, ArmCounts()) + ArmCounts(0, late_holdout)
        treated = sum((c for p, c in self.by_policy.items() if p != HOLDOUT), ArmCounts())
        return treated + ArmCounts(0, len(self._pending_clicks) - late_holdout), holdout


def tally(events: Iterable[LoggedEvent], start: datetime, end: datetime, bucket: str = "auto",
          zone: tzinfo = timezone.utc) -> PeriodTally:
    """Sum the events of [start, end) in buckets of an hour or a day (see ``choose_bucket``) of ``zone``
    (the slot's), like the days of ``decided_by_day``; ``start`` and ``end`` are kept as times of ``zone``."""
    result = PeriodTally(start=start.astimezone(zone), end=end.astimezone(zone),
                         bucket=choose_bucket(start, end, bucket), zone=zone)
    for event in events:
        result.add(event)
    return result


def _add(target: Dict[str, ArmCounts], key: str, one: ArmCounts) -> None:
    target[key] = target.get(key, ArmCounts()) + one
