"""POST /click: count a decision's reward exactly once, across retries, workers and storage faults.

1. The signed decision id is verified: forged, altered or another tenant's ids are unknown (404).
2. Too late for the slot's attribution window: 410.
3. The decision is claimed with a lightweight transaction; only one caller wins, whatever the
   number of retries, threads or workers. The claim's ``claimed_at`` is a lease of ``LEASE_S``.
4. The owner writes the click to the event log (a deterministic key: rewriting it is harmless),
   then its counter batch with the click's mark (``CountsStore.settle``: the mark says how often
   the batch landed), then marks the claim counted and answers 202.

A caller that finds the claim counted answers 200 "duplicate". One that finds it pending waits a
moment for its owner; when the owner failed (storage went down under it, the process died), the
retry takes the claim over once the lease is released or has run out, and settles the counters by
the mark: applied if they never landed, left if they did. Any failure answers 503, and a 503 means
"not acknowledged, send it again": a retried click is counted exactly once.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple


from app import metrics
from app.service import attribution
from app.errors import BadRequest, ClickInProgress, Gone, NotFound, StorageUnavailable
from app.service.runtime import Runtime
from app.storage import CountDelta, Event
from app.decision_ids import DecisionToken
from app.clock import utc
from app.storage.counts import MarkedBatch
from app.storage.impressions import decision_bucket
from app.storage.db import AMBIGUOUS, one_line
from bandit import GLOBAL

log = logging.getLogger(__name__)
CLAIM_GRACE_S = 24 * 3600  # claims outlive the attribution window by a day
# An owner gives up before writing its counters once ATTEMPT_S have passed since it took the lease;
# LEASE_S adds room for its last counter write (the driver's 5 s timeout, Cassandra's) to land or fail.
ATTEMPT_S = 6.0
LEASE_S = 15.0
# A click found pending with a lease younger than OWNER_AT_WORK_S most likely has an owner finishing
# it (a double click): wait up to WAIT_FOR_OWNER_S for it. An older lease belongs to an owner that
# failed or is stuck: answer 503 at once, rather than hold a worker while the lease runs out.
OWNER_AT_WORK_S = 1.0
WAIT_FOR_OWNER_S = 1.0
# A click's first counter write gives up after this long: a coordinator that waits on a node that just
# died (until Cassandra's failure detector notices, 10 to 20 s) would hold the worker, and the decisions
# queued behind it, for the driver's full 5 s. The outcome is then unknown and settled by the mark.
COUNTER_TIMEOUT_S = 2.0


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

    now = _now()
    ttl_s = slot.attribution_window_s + CLAIM_GRACE_S
    attempt_ends = time.monotonic() + ATTEMPT_S  # the lease is taken now or below, not later
    if rt.events.claim_click(tenant, token.nonce, ttl_s, now):
        lease, fresh = now, True
    else:
        taken = _take_over(rt, tenant, token, ttl_s)
        if taken is None:
            metrics.CLICKS.labels("duplicate").inc()
            return 200, {"status": "duplicate"}
        (lease, now), fresh = taken, False
    customer_id = customer_id or token.customer_id
    revenue_customer = customer_id if attribution.is_revenue_slot(slot) else None
    try:
        if revenue_customer:
            attribution.record_click(rt, token, decision_id, revenue_customer, slot, now)
        event = _click_event(token, decision_id, now, customer_id)
        if rt.publisher is not None:  # Kafka mode: a stream worker writes the event and the counts
            bucket = decision_bucket(token, slot.half_life_s)  # slots with a half-life: the decision's time bucket
            extra = {} if bucket is None else {"bucket": bucket}
            if not rt.publisher.publish_click(event, token.segments, **extra):  # waits until on the broker or spooled
                raise StorageUnavailable("the click could not be published or spooled, retry later",
                                         "stream_unavailable")
        else:
            _insert_idempotent(rt, event)
            _count_once(rt, token, fresh, deadline=attempt_ends, half_life_s=slot.half_life_s)
    except AMBIGUOUS as error:  # the counters may still land: keep the lease until they can no longer
        metrics.CLICKS_AMBIGUOUS.inc()
        log.warning("click outcome unknown; its retry settles it", extra={"tenant": tenant, "error": one_line(error)})
        raise StorageUnavailable("storage timed out; retry the click, it will not be counted twice",
                                 "storage_timeout") from None
    except Exception as error:
        log.warning("click not counted; its retry counts it", extra={"tenant": tenant, "error": one_line(error)})
        _release(rt, tenant, token, lease, ttl_s)
        raise
    rt.events.mark_counted(tenant, token.nonce, ttl_s)
    if rt.publisher is None:
        _forget_mark(rt, token)
    metrics.CLICKS.labels("accepted").inc()
    _attribute(rt, tenant, revenue_customer)
    return 202, {"status": "accepted"}


def _take_over(rt: Runtime, tenant: str, token: DecisionToken, ttl_s: int) -> Optional[Tuple[datetime, datetime]]:
    """(lease, click time) of a claim someone else made, when its owner failed; None when it was counted.

    Waits up to WAIT_FOR_OWNER_S for a live owner to finish; when the lease is still held after
    that, the answer is 503 "click_in_progress" (retry later), never a duplicate that was not counted.
    """
    deadline = time.monotonic() + WAIT_FOR_OWNER_S
    while True:
        claim = rt.events.claim(tenant, token.nonce)
        now = _now()
        if claim is None:  # expired between the two statements: claim it afresh
            if rt.events.claim_click(tenant, token.nonce, ttl_s, now):
                return now, now
            age = 0.0
        elif claim.state == "counted":
            return None
        else:
            age = (now - utc(claim.claimed_at)).total_seconds()
            if age >= LEASE_S:
                if rt.events.take_over(tenant, token.nonce, claim.claimed_at, now, ttl_s):
                    metrics.CLICKS_TAKEN_OVER.inc()
                    return now, utc(claim.clicked_at)
                age = 0.0  # another retry took it over just now
        if age >= OWNER_AT_WORK_S or time.monotonic() >= deadline:
            raise ClickInProgress(max(1, int(LEASE_S - age) + 1) if age < LEASE_S else 1)
        time.sleep(0.05)


def _count_once(rt: Runtime, token: DecisionToken, fresh: bool, deadline: float,
                half_life_s: Optional[int] = None) -> None:
    """Apply the click's counter batch exactly once: at once on a fresh claim (nothing can have
    landed), by its mark on a claim taken over (an earlier owner may have applied it)."""
    batch = _click_batch(token, half_life_s)
    if time.monotonic() > deadline:  # too late to write under this lease: nothing was sent
        raise StorageUnavailable("storage is slow, retry the click", "storage_timeout")
    if fresh:
        rt.db.run(rt.counts.statement(batch), timeout=COUNTER_TIMEOUT_S)
    else:  # a retry completing a click: patient (the driver's full timeout), so that it converges under load
        rt.counts.settle(batch)


def _forget_mark(rt: Runtime, token: DecisionToken) -> None:
    try:
        rt.counts.forget_async(_click_batch(token))
    except Exception:  # noqa: BLE001 - an orphan mark is never read again
        pass


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


def _insert_idempotent(rt: Runtime, event: Event, attempts: int = 3) -> None:
    """Event rows have deterministic keys, so a timed-out insert is simply sent again."""
    for attempt in range(attempts):
        try:
            rt.events.insert(event)
            return
        except AMBIGUOUS:
            if attempt == attempts - 1:
                raise


def _release(rt: Runtime, tenant: str, token: DecisionToken, lease: datetime, ttl_s: int) -> None:
    """Give up the lease after a failure that left nothing in flight, so the client's retry takes
    the claim over at once; when storage is down this fails too, and the lease runs out instead."""
    try:
        rt.events.release_lease(tenant, token.nonce, lease, ttl_s)
    except Exception:  # noqa: BLE001 - the original error is what the client must see
        pass


def _click_batch(token: DecisionToken, half_life_s: Optional[int] = None) -> MarkedBatch:
    return MarkedBatch(token.tenant, token.platform, token.slot_id, f"click:{token.nonce}",
                       tuple(_click_deltas(token, half_life_s)))


def _now() -> datetime:
    """Now in UTC to the millisecond: what Cassandra stores, so a lease read back compares equal."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _click_deltas(token: DecisionToken, half_life_s: Optional[int] = None):
    """The click on each count row of its decision; for a slot with a half-life also on those rows of
    the time bucket of the decision (a click is credited to when its impression was made)."""
    deltas = [CountDelta(token.tenant, token.platform, token.slot_id, s, token.creative_id, clicks=1)
              for s in token.segments]
    bucket = decision_bucket(token, half_life_s)
    if bucket is not None:
        deltas += [CountDelta(token.tenant, token.platform, token.slot_id, s, token.creative_id, clicks=1,
                              bucket=bucket) for s in token.segments]
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
