"""Slots and their creatives, as tenants configure them in CQL."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from app.storage.db import Database

log = logging.getLogger(__name__)

DEFAULT_ATTRIBUTION_WINDOW_S = 24 * 3600
DEFAULT_HORIZON_S = 7 * 24 * 3600
CLICKS, REVENUE = "clicks", "revenue"
OBJECTIVES = (CLICKS, REVENUE)
MAX_REMEMBERED_CITIES = 10_000  # per slot configuration; cities beyond are filtered per request


@dataclass(frozen=True)
class Creative:
    creative_id: str
    image_url: Optional[str]
    payload: Any  # the parsed JSON payload (None when absent)
    active: bool
    cities: FrozenSet[str]  # empty = shown everywhere
    offer_type: Optional[str] = None  # set on in-app offers; None on banners
    price: Optional[float] = None

    @property
    def is_offer(self) -> bool:
        return self.offer_type is not None or self.price is not None

    def eligible_in(self, city: Optional[str]) -> bool:
        """Active, and either unrestricted or restricted to a list that holds ``city``."""
        if not self.active:
            return False
        return not self.cities or (city is not None and city in self.cities)


@dataclass(frozen=True)
class SlotConfig:
    tenant: str
    platform: str
    slot_id: str
    attribution_window_s: int = DEFAULT_ATTRIBUTION_WINDOW_S
    holdout_share: float = 0.0
    objective: str = "clicks"
    horizon_s: int = DEFAULT_HORIZON_S
    creatives: Tuple[Creative, ...] = field(default_factory=tuple)
    half_life_s: Optional[int] = None  # evidence of age a counts 0.5^(a / half_life_s); None = no discounting
    min_share: float = 0.0  # exploration floor per eligible creative (bandit.policies.exploration)
    # city -> eligible creatives, filled by eligible(): a reload makes a new SlotConfig, never edits one.
    _eligible: Dict[Optional[str], Tuple[Creative, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def eligible(self, city: Optional[str]) -> Tuple[Creative, ...]:
        """The creatives a decision in ``city`` may show (computed once per city and configuration)."""
        found = self._eligible.get(city)
        if found is None:
            found = tuple(c for c in self.creatives if c.eligible_in(city))
            if len(self._eligible) < MAX_REMEMBERED_CITIES:
                self._eligible[city] = found
        return found

    def creative(self, creative_id: str) -> Optional[Creative]:
        return next((c for c in self.creatives if c.creative_id == creative_id), None)


class CatalogStore:
    def __init__(self, db: Database):
        self.db = db

    def list_slots(self, tenant: Optional[str] = None) -> List[Tuple[str, str, str]]:
        """Every (tenant, platform, slot_id) of the slots table, or one tenant's, sorted."""
        rows = self.db.execute("SELECT tenant, platform, slot_id FROM slots")
        keys = sorted((r["tenant"], r["platform"], r["slot_id"]) for r in rows)
        return [k for k in keys if tenant is None or k[0] == tenant]

    def platforms(self, tenant: str) -> List[str]:
        """The platforms on which ``tenant`` has at least one slot, sorted (one row per partition)."""
        rows = self.db.execute("SELECT DISTINCT tenant, platform FROM slots")
        return sorted(r["platform"] for r in rows if r["tenant"] == tenant)

    def objectives(self, tenant: str, platform: Optional[str] = None) -> Dict[Tuple[str, str], str]:
        """{(platform, slot_id): objective} of one tenant's slots (all platforms or one)."""
        if platform is None:
            rows = [r for r in self.db.execute("SELECT tenant, platform, slot_id, objective FROM slots")
                    if r["tenant"] == tenant]
        else:
            rows = self.db.execute("SELECT platform, slot_id, objective FROM slots WHERE tenant = ? AND platform = ?",
                                   (tenant, platform))
        return {(r["platform"], r["slot_id"]): (r["objective"] or "").strip().lower() for r in rows}

    def load_slot(self, tenant: str, platform: str, slot_id: str) -> Optional[SlotConfig]:
        """The slot and all its creatives, or None when the tenant has no such slot."""
        row = self.db.execute(
            "SELECT attribution_window_s, holdout_share, objective, horizon_s, half_life_s, min_share FROM slots "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        ).one()
        if row is None:
            return None
        rows = self.db.execute(
            "SELECT creative_id, image_url, payload, active, cities, offer_type, price FROM creatives "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        )
        creatives = tuple(_creative(r, tenant, slot_id) for r in rows)
        return SlotConfig(
            tenant=tenant,
            platform=platform,
            slot_id=slot_id,
            attribution_window_s=_positive(row["attribution_window_s"], DEFAULT_ATTRIBUTION_WINDOW_S),
            holdout_share=min(max(row["holdout_share"] or 0.0, 0.0), 1.0),
            objective=_objective(row["objective"], tenant, slot_id),
            horizon_s=_positive(row["horizon_s"], DEFAULT_HORIZON_S),
            creatives=creatives,
            half_life_s=_positive(row["half_life_s"], None),
            min_share=min(max(row["min_share"] or 0.0, 0.0), 1.0),
        )


def _creative(row: Dict[str, Any], tenant: str, slot_id: str) -> Creative:
    payload = None
    if row["payload"]:
        try:
            payload = json.loads(row["payload"])
        except ValueError:
            # A tenant's typo must not take the slot down: serve the raw text and say so in the log.
            log.warning("creative payload is not JSON", extra={"tenant": tenant, "slot_id": slot_id,
                                                                "creative_id": row["creative_id"]})
            payload = row["payload"]
    return Creative(
        creative_id=row["creative_id"],
        image_url=row["image_url"],
        payload=payload,
        active=row["active"] is not False,
        cities=frozenset(c.strip().lower() for c in (row["cities"] or ()) if c.strip()),
        offer_type=row["offer_type"] or None,
        price=row["price"] if row["price"] is not None and row["price"] >= 0 else None,
    )


def _objective(value: Optional[str], tenant: str, slot_id: str) -> str:
    """'clicks' or 'revenue'; null means clicks, and so does anything else (with a warning)."""
    objective = (value or "clicks").strip().lower()
    if objective not in OBJECTIVES:
        log.warning("unknown slot objective, using clicks", extra={"tenant": tenant, "slot_id": slot_id,
                                                                    "objective": value})
        return "clicks"
    return objective


def _positive(value: Optional[int], default: Optional[int]) -> Optional[int]:
    return value if value and value > 0 else default
