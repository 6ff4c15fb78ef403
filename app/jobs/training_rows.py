"""Training rows anchored at decisions: one row per impression with the customer's features as they
were when the decision was made and the revenue the decision earned over the following horizon.

No leakage: a row's features come from the customer's events with ``event_time`` < decision time
*and* ``received_at`` <= decision time, so neither a later event nor a late-arriving older event
changes them. Country, sign-in and last session look back ``lookback_s`` (default 90 days) before
the decision; ``last_week`` is the 7 days before the latest of those events (``bandit.features``).

Labels: ``bandit.attribution.attribute`` over the customer's purchases, refunds and cancellations
and the customer's clicked decisions of the exported slots and of the tenant's other revenue slots
(they share credit, as in the service), from one horizon before ``since``, with horizon_s = the
export's horizon. A row is final once its horizon has closed (``label_final``). A repeat purchase
whose original was attributed to a decision older than that is counted as a new purchase.
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from app.storage.db import Database
from app.jobs.log_frames import EventLogError, hours_between, list_slots
from app.storage.catalog import CatalogStore
from app.storage.customers import CustomerStore
from app.storage.event_log import EventStore
from bandit.attribution import Click, Label, Payment, attribute
from bandit.features import FeatureEvent, features_at

FEATURE_COLUMNS = ("country", "facebook_connected", "last_week.purchase_amount", "last_session.games_played",
                   "last_session.win_ratio")
COLUMNS = ("decision_id", "timestamp", "tenant", "platform", "slot_id", "customer_id", "segment", "policy",
           "creative_id", "offer_type", "price", "propensity") + FEATURE_COLUMNS + (
           "clicked", "revenue", "purchases", "refunds", "label_final")
MONEY = ("purchase", "refund", "cancellation")
UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_HORIZON_S = 365 * 86400
DEFAULT_LOOKBACK_S = 90 * 86400
HISTORY_READERS = 8  # customers whose events are read at once
Progress = Callable[[str], None]
SlotKey = Tuple[str, str, str]


class TrainingError(EventLogError):
    """Bad input for an export; ``str(error)`` is one line for the operator."""


def parse_horizon(text: str, name: str = "--horizon") -> int:
    """Seconds of a duration like ``7d``, ``36h``, ``90m`` or ``3600s`` (1 second to 365 days)."""
    match = re.fullmatch(r"\s*(\d+)\s*([dhms])\s*", text or "")
    if not match:
        raise TrainingError(f"{name} must be a number with a unit d, h, m or s (like 7d, 36h, 3600s), "
                            f"but {text!r} is given")
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if not 1 <= seconds <= MAX_HORIZON_S:
        raise TrainingError(f"{name} must be between 1s and 365d, but {text!r} is given")
    return seconds


@dataclass(frozen=True)
class Scope:
    """What to export: decisions with since <= time < until of the matching slots."""

    since: datetime
    until: datetime
    horizon_s: int
    tenant: Optional[str] = None
    platform: Optional[str] = None
    slot_id: Optional[str] = None
    final_only: bool = False
    lookback_s: int = DEFAULT_LOOKBACK_S


@dataclass
class Decision:
    """One impression of the event log and what happened after it."""

    row: Dict[str, Any]
    clicked_at: Optional[datetime] = None
    exported: bool = False  # in the export's slots and window (else only context for attribution)

    @property
    def time(self) -> datetime:
        return self.row["event_time"]


def slots_in(db: Database, scope: Scope) -> List[SlotKey]:
    """The slots the export covers; TrainingError when none matches."""
    keys = [k for k in list_slots(db, scope.tenant)
            if (scope.platform is None or k[1] == scope.platform) and (scope.slot_id is None or k[2] == scope.slot_id)]
    if not keys:
        wanted = ", ".join(f"{n}={v}" for n, v in (("tenant", scope.tenant), ("platform", scope.platform),
                                                    ("slot", scope.slot_id)) if v) or "any"
        raise TrainingError(f"no slot matches ({wanted}): check --tenant, --platform and --slot")
    return keys


def training_rows(db: Database, scope: Scope, now: Optional[datetime] = None,
                  progress: Optional[Progress] = None) -> Iterator[Dict[str, Any]]:
    """The export's rows (dicts keyed by COLUMNS), tenant by tenant, oldest decision first within a tenant."""
    now = now or datetime.now(timezone.utc)
    hours_between(scope.since, scope.until)  # validates the window (order, size)
    say = progress or (lambda message: None)
    by_tenant: Dict[str, List[SlotKey]] = {}
    for key in slots_in(db, scope):
        by_tenant.setdefault(key[0], []).append(key)
    for tenant, keys in sorted(by_tenant.items()):
        decisions = _decisions(db, keys, context_slots(db, tenant, keys), scope, now, say)
        yield from _tenant_rows(db, tenant, keys, decisions, scope, now, say)


def context_slots(db: Database, tenant: str, keys: Sequence[SlotKey]) -> List[SlotKey]:
    """The tenant's other revenue slots: their clicked decisions share credit for a purchase with
    the exported ones, as in the service's labels (app.service.attribution)."""
    catalog = CatalogStore(db)
    others = [k for k in list_slots(db, tenant) if k not in set(keys)]
    return [k for k in others if (getattr(catalog.load_slot(*k), "objective", None) == "revenue")]


def _decisions(db: Database, keys: Sequence[SlotKey], context: Sequence[SlotKey], scope: Scope, now: datetime,
               say: Progress) -> List[Decision]:
    """The impressions of the exported and the context slots with the time of their first click.

    Read from ``since - horizon`` (a decision clicked before ``since`` may share a purchase with an
    exported one) to ``until + horizon`` (a later click can no longer earn anything)."""
    events = EventStore(db)
    horizon = timedelta(seconds=scope.horizon_s)
    start, end = scope.since - horizon, min(scope.until + horizon, max(now, scope.until))
    decisions: Dict[str, Decision] = {}
    clicks: Dict[str, datetime] = {}
    exported = set(keys)
    for tenant, platform, slot_id in list(keys) + list(context):
        def report(done: int, total: int, where=f"{tenant}/{platform}/{slot_id}") -> None:
            say(f"reading the event log of {where}: {done}/{total} hours")
        for row in events.read_period(tenant, platform, slot_id, start, end, report):
            if row["kind"] == "impression" and row["decision_id"]:
                inside = (tenant, platform, slot_id) in exported and scope.since <= row["event_time"] < scope.until
                decisions.setdefault(row["decision_id"], Decision(row, exported=inside))
            elif row["kind"] == "click" and row["decision_id"]:
                first = clicks.get(row["decision_id"])
                clicks[row["decision_id"]] = row["event_time"] if first is None else min(first, row["event_time"])
    for decision_id, decision in decisions.items():
        clicked_at = clicks.get(decision_id)
        decision.clicked_at = clicked_at if clicked_at is not None and clicked_at >= decision.time else None
    return sorted(decisions.values(), key=lambda d: (d.time, d.row["decision_id"]))


def _tenant_rows(db: Database, tenant: str, keys: Sequence[SlotKey], decisions: List[Decision], scope: Scope,
                 now: datetime, say: Progress) -> Iterator[Dict[str, Any]]:
    """The rows of one tenant's decisions: customer by customer for features and labels."""
    catalog = CatalogStore(db)
    offers = _offers(catalog, keys)
    customers = CustomerStore(db)
    by_customer: Dict[Optional[str], List[Decision]] = {}
    for decision in decisions:
        by_customer.setdefault(decision.row.get("customer_id"), []).append(decision)
    by_customer = {c: g for c, g in by_customer.items() if any(d.exported for d in g)}
    ordered = sorted(by_customer.items(), key=lambda kv: kv[0] or "")

    def history_of(item: Tuple[Optional[str], List[Decision]]) -> List[CustomerEventRow]:
        customer_id, group = item
        return _history(customers, tenant, customer_id, group, scope, now) if customer_id else []

    # HISTORY_READERS customers are read at a time: each is a few round trips; the driver is thread-safe.
    with ThreadPoolExecutor(HISTORY_READERS) as pool:
        histories = pool.map(history_of, ordered)
        rows = _customer_rows(ordered, histories, offers, scope, now, tenant, say)
    rows.sort(key=lambda r: (r["timestamp"], r["decision_id"]))
    for row in rows:
        if not (scope.final_only and not row["label_final"]):
            yield row


def _customer_rows(ordered, histories, offers, scope: Scope, now: datetime, tenant: str,
                   say: Progress) -> List[Dict[str, Any]]:
    """The rows of every customer's exported decisions, given the customers' histories in order."""
    rows: List[Dict[str, Any]] = []
    for done, ((_, group), history) in enumerate(zip(ordered, histories), 1):
        labels = _labels(group, history, scope.horizon_s, now)
        for decision in (d for d in group if d.exported):
            rows.append(_row(decision, history, labels.get(decision.row["decision_id"]), offers, scope, now))
        if done % 200 == 0 or done == len(ordered):
            say(f"{tenant}: features and labels of {done}/{len(ordered)} customers")
    return rows


def _offers(catalog: CatalogStore, keys: Sequence[SlotKey]) -> Dict[Tuple[str, str, str], Tuple[Any, Any]]:
    """(platform, slot_id, creative_id) -> (offer_type, price) from the current catalog."""
    offers = {}
    for tenant, platform, slot_id in keys:
        slot = catalog.load_slot(tenant, platform, slot_id)
        for creative in slot.creatives if slot else ():
            offers[(platform, slot_id, creative.creative_id)] = (creative.offer_type, creative.price)
    return offers


@dataclass(frozen=True)
class CustomerEventRow:
    """A stored customer event as the export needs it."""

    feature: FeatureEvent
    received_at: datetime
    event_id: str
    sku: Optional[str]


def _history(customers: CustomerStore, tenant: str, customer_id: str, group: Sequence[Decision], scope: Scope,
             now: datetime) -> List[CustomerEventRow]:
    """The customer's events from ``lookback`` before the first exported decision (or the first
    context decision, if earlier) to the last decision's horizon."""
    first = next(d for d in group if d.exported)
    start = min(first.time - timedelta(seconds=scope.lookback_s), group[0].time)
    end = min(group[-1].time + timedelta(seconds=scope.horizon_s), max(now, group[-1].time))
    history = []
    for row in customers.events_between(tenant, customer_id, start, end):
        attrs = row["attrs"]
        received = row["received_at"]
        if received is not None and received.tzinfo is None:  # the driver returns naive UTC
            received = received.replace(tzinfo=timezone.utc)
        history.append(CustomerEventRow(
            FeatureEvent(time=row["event_time"], event=row["event"], session_id=row["session_id"] or "",
                         txn_amount=attrs.get("txn_amount"), won=attrs.get("won"), country=attrs.get("country"),
                         signin_method=attrs.get("signin_method")),
            received or row["event_time"], row["event_id"], attrs.get("sku")))
    return history


def known_at(history: Sequence[CustomerEventRow], moment: datetime) -> List[FeatureEvent]:
    """The events a decision at ``moment`` could have known: happened before it and received by then."""
    return [e.feature for e in history if e.feature.time < moment and e.received_at <= moment]


def _labels(group: Sequence[Decision], history: Sequence[CustomerEventRow], horizon_s: int,
            now: datetime) -> Dict[str, Label]:
    """Attribution of the customer's payments to the customer's clicked decisions."""
    clicks = [Click(d.row["decision_id"], d.time.timestamp(), d.clicked_at.timestamp(), horizon_s)
              for d in group if d.clicked_at is not None]
    if not clicks:
        return {}
    payments = [Payment(e.event_id, e.feature.event, e.feature.time.timestamp(), float(e.feature.txn_amount or 0.0),
                        e.sku) for e in history if e.feature.event in MONEY]
    return attribute(clicks, payments, now.timestamp())


def _row(decision: Decision, history: Sequence[CustomerEventRow], label: Optional[Label],
         offers: Dict[Tuple[str, str, str], Tuple[Any, Any]], scope: Scope, now: datetime) -> Dict[str, Any]:
    event = decision.row
    features = features_at(known_at(history, decision.time), as_of=decision.time) if history else None
    offer_type, price = offers.get((event["platform"], event["slot_id"], event["creative_id"]), (None, None))
    final = now >= decision.time + timedelta(seconds=scope.horizon_s)
    row = {
        "decision_id": event["decision_id"], "timestamp": decision.time, "tenant": event["tenant"],
        "platform": event["platform"], "slot_id": event["slot_id"], "customer_id": event.get("customer_id"),
        "segment": event.get("segment"), "policy": event.get("policy"), "creative_id": event["creative_id"],
        "offer_type": offer_type, "price": price, "propensity": event.get("propensity"),
        "clicked": decision.clicked_at is not None,
        "revenue": round(label.revenue, 6) if label else 0.0,
        "purchases": round(label.purchases, 6) if label else 0.0,
        "refunds": round(label.refunds, 6) if label else 0.0,
        "label_final": final,
    }
    row.update({name: (features or {}).get(name) for name in FEATURE_COLUMNS})
    return row
