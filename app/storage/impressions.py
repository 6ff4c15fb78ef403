"""What a decision queues for storage: one plain record, expanded off the request path.

``Impression`` holds a decision's signed token and what else its event needs. The thread that
stores it (``ImpressionWriter``, or the Kafka publisher) turns it into the counter increments
(``deltas``) and the event-log row (``event``) in its own loop over a whole flush, so that the
request path does not pay for building them.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import List, NamedTuple, Optional

from app.decision_ids import DecisionToken
from app.storage import CountDelta, Event
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
        t = self.token
        deltas = [CountDelta(t.tenant, t.platform, t.slot_id, segment, t.creative_id, impressions=1)
                  for segment in t.segments]
        bucket = self.bucket()
        if bucket is not None:
            deltas += [CountDelta(t.tenant, t.platform, t.slot_id, segment, t.creative_id, impressions=1,
                                  bucket=bucket) for segment in t.segments]
        if t.referrer:
            deltas.append(CountDelta(t.tenant, t.platform, t.slot_id, GLOBAL, t.creative_id, impressions=1,
                                     referrer=t.referrer))
        return deltas

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
