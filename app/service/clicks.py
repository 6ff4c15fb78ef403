"""POST /click: count a decision's reward exactly once.

1. The signed decision id is verified: forged, altered or another tenant's ids are unknown (404).
2. Too late for the slot's attribution window: 410.
3. The decision is claimed with a lightweight transaction; only one caller wins, whatever the
   number of retries, threads or workers. Losers answer 200 "duplicate".
4. The winner writes the click to the event log, then increments the counters in one counter
   batch, then marks the claim counted.
If a write provably did not happen (Unavailable, no host), the claim is released and the answer is
503, so the client's retry counts the click. If a counter write timed out (it may have counted),
the claim stays "pending" and the click is in the event log, from which counts can be repaired;
it is never incremented twice.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple


from app import metrics
from app.service import attribution
from app.errors import BadRequest, Gone, NotFound, StorageUnavailable
from app.service.runtime import Runtime
from app.storage import CountDelta, Event
from app.decision_ids import DecisionToken
from app.storage.db import AMBIGUOUS
from bandit import GLOBAL

log = logging.getLogger(__name__)
CLAIM_GRACE_S = 24 * 3600  # claims outlive the attribution window by a day


def record_click(rt: Runtime, tenant: str, decision_id: Any, customer_id: Optional[str]) -> Tuple[int, Dict[str, str]]:
    if not isinstance(decision_id, str) or not decision_id:
        raise BadRequest("decision_id must be a non-empty string", "invalid_decision_id")
    token = rt.signer.verify(decision_id)
    if token is None or token.tenant != tenant:
        raise NotFound("unknown decision", "unknown_decision")
    slot = rt.slot(tenant, token.platform, token.slot_id)
    if slot is None:
        raise NotFound("unknown decision", "unknown_decision")
    age_s = time.time() - token.issued_ms / 1000
    if age_s > slot.attribution_window_s:
        raise Gone(f"the click came {int(age_s)} s after the decision; the slot's attribution window is "
                   f"{slot.attribution_window_s} s", "attribution_window_closed")

    now = datetime.now(timezone.utc)
    ttl_s = slot.attribution_window_s + CLAIM_GRACE_S
    if not rt.events.claim_click(tenant, token.nonce, ttl_s, now):
        metrics.CLICKS.labels("duplicate").inc()
        return 200, {"status": "duplicate"}
    customer_id = customer_id or token.customer_id
    revenue_customer = customer_id if attribution.is_revenue_slot(slot) else None
    if revenue_customer:
        try:
            attribution.record_click(rt, token, decision_id, revenue_customer, slot, now)
        except Exception:
            _release(rt, tenant, token)
            raise
    if rt.publisher is not None:  # Kafka mode: a stream worker writes the event and the counts
        answer = _publish_click(rt, token, _click_event(token, decision_id, now, customer_id), ttl_s)
        _attribute(rt, tenant, revenue_customer)
        return answer
    try:
        _insert_idempotent(rt, _click_event(token, decision_id, now, customer_id))
    except Exception:
        _release(rt, tenant, token)
        raise
    try:
        rt.counts.add_together(_click_deltas(token))
    except AMBIGUOUS:
        metrics.CLICKS_AMBIGUOUS.inc()
        raise StorageUnavailable("storage timed out; the click is recorded and will not be counted twice",
                                 "storage_timeout")
    except Exception:
        _release(rt, tenant, token)
        raise
    rt.events.mark_counted(tenant, token.nonce, ttl_s)
    metrics.CLICKS.labels("accepted").inc()
    _attribute(rt, tenant, revenue_customer)
    return 202, {"status": "accepted"}


def _attribute(rt: Runtime, tenant: str, customer_id: Optional[str]) -> None:
    """Join payments that arrived before this click (rare: events out of order). The click itself is
    counted already, so a failure here is logged, not answered: the customer's next payment redoes it."""
    if not customer_id:
        return
    try:
        attribution.update_customer(rt, tenant, customer_id)
    except Exception as error:  # noqa: BLE001 - the click is stored; say so in the log
        metrics.ATTRIBUTION_ERRORS.inc()
        log.warning("attribution after a click failed: %s", error, extra={"tenant": tenant})


def _publish_click(rt: Runtime, token: DecisionToken, event: Event, ttl_s: int) -> Tuple[int, Dict[str, str]]:
    """Hand the claimed click to the publisher (queue, then broker or on-disk spool)."""
    if not rt.publisher.publish_click(event, token.segments):
        _release(rt, token.tenant, token)
        raise StorageUnavailable("the event queue is full, retry later", "queue_full")
    rt.events.mark_counted(token.tenant, token.nonce, ttl_s)
    metrics.CLICKS.labels("accepted").inc()
    return 202, {"status": "accepted"}


def _insert_idempotent(rt: Runtime, event: Event, attempts: int = 3) -> None:
    """Event rows have deterministic keys, so a timed-out insert is simply sent again."""
    for attempt in range(attempts):
        try:
            rt.events.insert(event)
            return
        except AMBIGUOUS:
            if attempt == attempts - 1:
                raise


def _release(rt: Runtime, tenant: str, token: DecisionToken) -> None:
    try:
        rt.events.release_claim(tenant, token.nonce)
    except Exception:  # the original error is what the client must see
        pass


def _click_deltas(token: DecisionToken):
    deltas = [CountDelta(token.tenant, token.platform, token.slot_id, s, token.creative_id, clicks=1)
              for s in token.segments]
    if token.referrer:
        deltas.append(CountDelta(token.tenant, token.platform, token.slot_id, GLOBAL, token.creative_id, clicks=1,
                                 referrer=token.referrer))
    return deltas


def _click_event(token: DecisionToken, decision_id: str, now: datetime, customer_id: Optional[str]) -> Event:
    return Event(
        tenant=token.tenant, platform=token.platform, slot_id=token.slot_id, event_time=now,
        event_id=f"click:{token.nonce}", kind="click", decision_id=decision_id, creative_id=token.creative_id,
        segment=token.segments[-1], city=token.city, customer_id=customer_id, referrer=token.referrer,
    )
