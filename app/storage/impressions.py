"""What a decision queues for storage: one plain record, expanded off the request path.

``Impression`` holds a decision's signed token and what else its event needs. The thread that
stores it (``ImpressionWriter``, or the Kafka publisher) turns it into the counter increments
(``count_deltas``) and the event-log row (``event``) in its own loop over a whole flush, so that the
request path does not pay for building them. The increments of a flush are counted per distinct
kind of impression first (slot, count rows, creative, referrer, time bucket) and built once per
kind: the writer shares the worker's interpreter with its requests, and an impression of a slot
with a half-life, which touches twice the rows, then costs it no more than any other.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Iterable, List, NamedTuple, Optional

from app.decision_ids import DecisionToken
from app.storage import CountDelta, Event
from app.storage.counts import merge
from bandit import GLOBAL
from bandit.discount import bucket_start, bucket_width_s


class Impression(NamedTuple):
    token: DecisionToken  # what the decision id signs: slot, creative, count rows, time, nonce, city, referrer
    decision_id: str
    segment: str  # the posterior that decided (the event's segment)
    customer_id: Optional[str] = None  # as requested (the token signs it only for revenue slots)
    policy: Optional[str] = None
    propensity: Optional[float] = None
    half_life_s: Optional[int] = None  # the slot's half-life: its counts also go to time buckets

    def bucket(self) -> Optional[int]:
        """The time bucket of the decision (slots with a half-life), else None."""
        return decision_bucket(self.token, self.half_life_s)

    def deltas(self) -> List[CountDelta]:
        """One impression on each of its count rows (and their time bucket's rows, for a slot with a
        half-life), and on its referrer's row when it has one."""
        return count_deltas([self])

    def kind(self) -> tuple:
        """What decides its count rows: slot, count segments, creative, referrer, and for a slot with
        a half-life the half-life and the decision's second (the second decides the bucket)."""
        t = self.token
        second = t.issued_ms // 1000 if self.half_life_s else None
        return t.tenant, t.platform, t.slot_id, t.segments, t.creative_id, t.referrer, self.half_life_s, second

    def event(self) -> Event:
        """Its row of the event log (kind 'impression', id 'imp:<nonce>')."""
        t = self.token
        return Event(
            tenant=t.tenant, platform=t.platform, slot_id=t.slot_id,
            event_time=datetime.fromtimestamp(t.issued_ms / 1000, timezone.utc),
            event_id=f"imp:{t.nonce}", kind="impression", decision_id=self.decision_id,
            creative_id=t.creative_id, segment=self.segment, city=t.city, customer_id=self.customer_id,
            referrer=t.referrer, policy=self.policy, propensity=self.propensity,
        )


def decision_bucket(token: DecisionToken, half_life_s: Optional[int]) -> Optional[int]:
    """The time bucket an impression and its click count in: the bucket of the decision's time
    (the decision id signs it), for slots with a half-life; None without one."""
    if not half_life_s:
        return None
    return bucket_start(token.issued_ms / 1000, bucket_width_s(half_life_s))


def count_deltas(impressions: Iterable[Impression]) -> List[CountDelta]:
    """The counter increments of many impressions, one per counter row (in order of first use).

    Impressions are counted per ``kind`` and each kind's n impressions become its increments once:
    +n on every count row, on those rows of its time bucket (slots with a half-life) and on its
    referrer's row. A bucket is floor(t / width) * width, the same for the decision's time t and
    for its whole second floor(t), since the width is a whole number of seconds.
    """
    deltas: List[CountDelta] = []
    for (tenant, platform, slot_id, segments, creative_id, referrer, half_life_s, second), n \
            in Counter(impression.kind() for impression in impressions).items():
        deltas += [CountDelta(tenant, platform, slot_id, segment, creative_id, impressions=n) for segment in segments]
        if half_life_s:
            bucket = bucket_start(second, bucket_width_s(half_life_s))
            deltas += [CountDelta(tenant, platform, slot_id, segment, creative_id, impressions=n, bucket=bucket)
                       for segment in segments]
        if referrer:
            deltas.append(CountDelta(tenant, platform, slot_id, GLOBAL, creative_id, impressions=n, referrer=referrer))
    return merge(deltas)
