"""Keeping the labels of revenue decisions current as clicks and payments arrive.

Only slots whose objective is ``revenue`` take part. When a customer clicks a decision of such a
slot, the click is kept per customer (``customer_clicks``). Whenever one of the customer's payments
(purchase, refund, cancellation) is stored, or a click arrives after a payment, the labels of all
the customer's clicked decisions are recomputed from scratch with ``bandit.attribution.attribute``
and the changes are written with ``RevenueStore.apply`` (exact, whatever the arrival order or the
number of retries).

A recomputation that wrote something reads the customer's clicks and payments again afterwards and
repeats when they changed meanwhile: the last writer always saw every stored payment, so two calls
racing on one customer cannot leave a label computed from older data.

Labels stop changing ``LATE_S`` after their window closes (issued_at + horizon): a payment stored
later than that moves no label and no total (its row expires then).

For a slot with a half-life a label also counts in the time bucket of its decision (like the
decision's click), so purchases, refunds and amounts are discounted by the decision's age
(bandit.discount); buckets older than the first one storage keeps are no longer moved
(app/storage/bucket_retention.py).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from app.storage.db import Database
from app.decision_ids import DecisionToken, read_unverified
from app.service.runtime import Runtime
from app.storage.catalog import SlotConfig
from app.storage.customers import CustomerStore
from app.storage.catalog import REVENUE
from app.storage.bucket_retention import first_kept
from app.storage.impressions import decision_bucket
from app.storage.revenue import LabelWrite, RevenueStore, StoredClick
from bandit.attribution import DAY_S, REPEAT_WINDOW_S, Click, Payment, attribute
from app.clock import utc

log = logging.getLogger(__name__)

LATE_S = 7 * DAY_S
ROUNDS = 5  # recomputations per call while the customer's data keeps changing underneath


def is_revenue_slot(slot: Optional[SlotConfig]) -> bool:
    return slot is not None and slot.objective == REVENUE


def record_click(rt: Runtime, token: DecisionToken, decision_id: str, customer_id: str, slot: SlotConfig,
                 clicked_at: datetime) -> None:
    """Keep a revenue decision's click for the customer's later purchases (until no label can change)."""
    ttl_s = slot.horizon_s + REPEAT_WINDOW_S + LATE_S
    RevenueStore(rt.db).record_click(token.tenant, customer_id, token.nonce, decision_id, clicked_at, ttl_s)


SlotOf = Callable[[str, str, str], Optional[SlotConfig]]  # (tenant, platform, slot_id) -> config


def update_customers(rt: Runtime, tenant: str, customer_ids: Iterable[str], now: Optional[datetime] = None) -> int:
    """update_customer for each distinct customer who clicked (read concurrently first: most payers
    never clicked a revenue decision); the number of labels changed."""
    return relabel_all(rt.db, rt.slot, tenant, customer_ids, now)


def relabel_all(db: Database, slot_of: SlotOf, tenant: str, customer_ids: Iterable[str],
                now: Optional[datetime] = None) -> int:
    """relabel for each distinct customer of ``customer_ids`` who has a stored click."""
    ids = set(customer_ids)
    if not ids:
        return 0
    return sum(relabel(db, slot_of, tenant, customer_id, now)
               for customer_id in RevenueStore(db).with_clicks(tenant, ids))


def update_customer(rt: Runtime, tenant: str, customer_id: str, now: Optional[datetime] = None) -> int:
    """Recompute the labels of one customer's clicked revenue decisions; the number that changed."""
    return relabel(rt.db, rt.slot, tenant, customer_id, now)


def relabel(db: Database, slot_of: SlotOf, tenant: str, customer_id: str, now: Optional[datetime] = None) -> int:
    """update_customer with explicit storage and slot lookup (also used by ``slotbandit attribute``)."""
    revenue, customers = RevenueStore(db), CustomerStore(db)
    changed = 0
    basis = _basis(revenue, customers, tenant, customer_id)
    for _ in range(ROUNDS):
        if not basis[0]:
            return changed
        moment = (now or datetime.now(timezone.utc)).timestamp()
        writes = _label_writes(slot_of, tenant, basis, moment)
        written = sum(revenue.apply(tenant, platform, slot_id, slot_writes,
                                    first_kept=first_kept(slot_of(tenant, platform, slot_id), moment))
                      for (platform, slot_id), slot_writes in writes.items())
        changed += written
        if not written:
            return changed
        fresh = _basis(revenue, customers, tenant, customer_id)
        if fresh == basis:
            return changed
        basis = fresh
    log.warning("customer data kept changing during attribution", extra={"tenant": tenant,
                                                                         "customer_id": customer_id})
    return changed


Basis = Tuple[List[StoredClick], List[Payment]]


def _basis(revenue: RevenueStore, customers: CustomerStore, tenant: str, customer_id: str) -> Basis:
    """The customer's clicks and every payment that can join them, in a stable order."""
    clicks = sorted(revenue.clicks_of(tenant, customer_id), key=lambda c: c.decision)
    if not clicks:
        return [], []
    issued = [token.issued_ms / 1000 for token in (read_unverified(c.decision_id) for c in clicks) if token]
    start = datetime.fromtimestamp(min(issued, default=0) - REPEAT_WINDOW_S, timezone.utc)
    end = datetime.now(timezone.utc) + timedelta(days=1)
    payments = [Payment(row["event_id"], row["event"], utc(row["event_time"]).timestamp(), row["txn_amount"],
                        row["sku"])
                for row in customers.payments_between(tenant, customer_id, start, end)]
    return clicks, sorted(payments, key=lambda p: (p.time, p.event_id))


def _label_writes(slot_of: SlotOf, tenant: str, basis: Basis, now: float) -> Dict[Tuple[str, str], List[LabelWrite]]:
    """{(platform, slot_id): label writes} for the decisions whose labels can still change."""
    stored_clicks, payments = basis
    tokens: Dict[str, Tuple[DecisionToken, SlotConfig]] = {}
    clicks: List[Click] = []
    for stored in stored_clicks:
        token = read_unverified(stored.decision_id)
        slot = slot_of(tenant, token.platform, token.slot_id) if token and token.tenant == tenant else None
        if not is_revenue_slot(slot):
            continue
        tokens[stored.decision] = (token, slot)
        clicks.append(Click(stored.decision, token.issued_ms / 1000, utc(stored.clicked_at).timestamp(),
                            slot.horizon_s))
    writes: Dict[Tuple[str, str], List[LabelWrite]] = {}
    labels = attribute(clicks, payments, now)
    for click in clicks:
        frozen_at = click.window_end + LATE_S
        if now > frozen_at:
            continue
        token, slot = tokens[click.decision]
        label = labels[click.decision]
        values = (label.purchases, label.refunds, label.gross, label.gross_sq, label.refunded)
        ttl_s = int(frozen_at - now) + DAY_S
        writes.setdefault((token.platform, token.slot_id), []).append(
            LabelWrite(click.decision, token.creative_id, token.segments, values, label.final, ttl_s,
                       decision_bucket(token, slot.half_life_s)))
    return writes

