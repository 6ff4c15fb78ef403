"""Hand-built histories for the training export and feature segment tests: decisions and clicks in
the event log, customer events with the moment each was received."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from app.storage.customer_events import CustomerEvent
from app.storage.customers import CustomerStore
from app.storage.event_log import Event, EventStore

TYPED = ("txn_amount", "won", "country", "signin_method", "sku")


def offer_slot(tenant, slot_id: str = "shop", offers=(("pack", "bundle", 9.99), ("coins", "currency", 4.99)),
               platform: str = "android") -> str:
    """A slot whose creatives are priced offers."""
    tenant.add_slot(slot_id, creatives=[o[0] for o in offers], platform=platform)
    for creative_id, offer_type, price in offers:
        tenant.db.execute("UPDATE creatives SET offer_type = ?, price = ? WHERE tenant = ? AND platform = ? "
                          "AND slot_id = ? AND creative_id = ?",
                          (offer_type, price, tenant.name, platform, slot_id, creative_id))
    return slot_id


class History:
    """Writes one tenant's decisions, clicks and customer events at chosen times."""

    def __init__(self, db, tenant: str, slot_id: str, platform: str = "android"):
        self.events, self.customers = EventStore(db), CustomerStore(db)
        self.tenant, self.slot_id, self.platform = tenant, slot_id, platform
        self._n = 0

    def decision(self, decision_id: str, at: datetime, creative_id: str, propensity: float,
                 customer_id: Optional[str] = None, clicked_at: Optional[datetime] = None,
                 segment: str = "global") -> None:
        common = dict(tenant=self.tenant, platform=self.platform, slot_id=self.slot_id, decision_id=decision_id,
                      creative_id=creative_id, segment=segment, customer_id=customer_id)
        self.events.insert(Event(event_time=at, event_id=f"imp:{decision_id}", kind="impression",
                                 policy="thompson", propensity=propensity, **common))
        if clicked_at is not None:
            self.events.insert(Event(event_time=clicked_at, event_id=f"clk:{decision_id}", kind="click", **common))

    def customer_event(self, customer_id: str, event: str, at: datetime, received_at: Optional[datetime] = None,
                       session_id: str = "s", **fields) -> None:
        self._n += 1
        typed = {k: v for k, v in fields.items() if k in TYPED}
        self.customers.write([CustomerEvent(tenant=self.tenant, event_id=f"e{self._n}", event=event,
                                            customer_id=customer_id, session_id=session_id, event_time=at,
                                            attrs=dict(typed), **typed)], received_at or at)


def hour_start(days_ago: float) -> datetime:
    """A whole second 10 minutes past an hour, ``days_ago`` days before now."""
    moment = datetime.now(timezone.utc) - timedelta(days=days_ago)
    return moment.replace(minute=10, second=0, microsecond=0)
