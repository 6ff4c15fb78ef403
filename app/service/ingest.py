"""POST /events: validate each event, store each new one exactly once, say what happened to every one.

For the valid events of a call:

1. Repeated event ids inside the call: the first one goes on, later ones are duplicates.
2. Each event id is claimed (``app/storage/event_keys.py``: one conditional batch per key partition
   and call, not one lightweight transaction per event): exactly one caller wins, however many race.
   The winner counts the event as accepted; every other caller counts it as a duplicate.
3. The winner writes the event's rows (deterministic keys: rewriting them is harmless).
4. A loser whose claim carries the same fingerprint writes the rows too: either the winner is still
   writing (the rewrite is harmless) or an earlier call failed half-way (503) and this resend
   completes its work. It still counts as a duplicate: the id was claimed before.
5. Payments (purchase, refund, cancellation) move the revenue labels of the customer's clicked
   decisions (app/service/attribution.py); a resend runs that again (it recomputes from scratch).

When storage fails, the call answers 503: the client's retry of the same events completes them.
A later event with an id already claimed by another content changes nothing stored.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

from app import metrics
from app.service import attribution
from app.service.event_input import event_array, parse_all
from app.storage.customer_events import MONEY_EVENTS, CustomerEvent
from app.service.runtime import Runtime
from app.storage.customers import CustomerStore
from app.storage.event_keys import EventKeyStore


def ingest(rt: Runtime, store: CustomerStore, tenant: str, body: Any) -> Dict[str, Any]:
    """The answer ``{"accepted", "duplicates", "rejected"}`` of one POST /events call."""
    items = event_array(body)

    def decision_ok(decision_id: str) -> bool:
        token = rt.signer.verify(decision_id)
        return token is not None and token.tenant == tenant

    valid, rejected = parse_all(tenant, items, decision_ok)
    fresh, duplicates = first_of_each_id([event for _, event in valid])

    def attribute(written: List[CustomerEvent]) -> None:
        payers = {event.customer_id for event in written if event.event in MONEY_EVENTS}
        metrics.LABELS_CHANGED.inc(attribution.update_customers(rt, tenant, payers))

    accepted = store_new(store, fresh, after_write=attribute)
    duplicates += len(fresh) - accepted
    metrics.EVENTS.labels("accepted").inc(accepted)
    metrics.EVENTS.labels("duplicate").inc(duplicates)
    metrics.EVENTS.labels("rejected").inc(len(rejected))
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


def store_new(store: CustomerStore, events: List[CustomerEvent],
              after_write: Optional[Callable[[List[CustomerEvent]], None]] = None) -> int:
    """Store the events whose ids are new (and rewrite resent ones); return how many were new.

    ``after_write`` runs on the written events; when it fails the call fails, and the client's
    retry of the same events runs it again."""
    if not events:
        return 0
    now = datetime.now(timezone.utc)
    keys = EventKeyStore(store.db)
    claims = keys.claim(events, now)
    to_write = [event for event, claim in zip(events, claims) if claim.won or claim.fingerprint == event.fingerprint]
    store.write(to_write, now)
    if after_write is not None:
        after_write(to_write)
    return sum(1 for claim in claims if claim.won)


def first_of_each_id(events: List[CustomerEvent]):
    """(the first event of each id, how many repeats were dropped)."""
    seen, first = set(), []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            first.append(event)
    return first, len(events) - len(first)
