"""Slots and their creatives, as tenants configure them in CQL."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Any, Dict, FrozenSet, List, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.clock import utc

from app.storage.db import Database

log = logging.getLogger(__name__)

DEFAULT_ATTRIBUTION_WINDOW_S = 24 * 3600
DEFAULT_HORIZON_S = 7 * 24 * 3600
CLICKS, REVENUE = "clicks", "revenue"
OBJECTIVES = (CLICKS, REVENUE)
MAX_REMEMBERED_CITIES = 10_000  # per slot configuration; cities beyond are filtered per request
DEFAULT_FREQUENCY_WINDOW_S = 24 * 3600
UTC = timezone.utc

# Why a creative is or is not shown right now (GET /slot/<id>/stats "status", the dashboard).
SERVING, PAUSED, OTHER_CITIES = "serving", "paused", "other_cities"
NOT_STARTED, ENDED, OUTSIDE_HOURS = "not_started", "ended", "outside_hours"
STATUSES = (SERVING, PAUSED, OTHER_CITIES, NOT_STARTED, ENDED, OUTSIDE_HOURS)


@dataclass(frozen=True)
class Creative:
    creative_id: str
    image_url: Optional[str]
    payload: Any  # the parsed JSON payload (None when absent)
    active: bool
    cities: FrozenSet[str]  # empty = shown everywhere
    offer_type: Optional[str] = None  # set on in-app offers; None on banners
    price: Optional[float] = None
    starts_at: Optional[datetime] = None  # flight (aware UTC): shown from starts_at on; None = open
    ends_at: Optional[datetime] = None  # ... and before ends_at; None = open
    hours: FrozenSet[int] = frozenset()  # hours of the day (0-23) in the slot's zone; empty = every hour

    @property
    def is_offer(self) -> bool:
        return self.offer_type is not None or self.price is not None

    @property
    def scheduled(self) -> bool:
        """True when a flight or hours limit when the creative runs (checked per request)."""
        return self.starts_at is not None or self.ends_at is not None or bool(self.hours)

    def schedule_status(self, now: datetime, local_hour: int) -> str:
        """SERVING, NOT_STARTED, ENDED or OUTSIDE_HOURS at ``now`` (aware), ``local_hour`` in the slot's zone."""
        if self.starts_at is not None and now < self.starts_at:
            return NOT_STARTED
        if self.ends_at is not None and now >= self.ends_at:
            return ENDED
        if self.hours and local_hour not in self.hours:
            return OUTSIDE_HOURS
        return SERVING

    def status(self, city: Optional[str], now: datetime, zone: tzinfo) -> str:
        """Why the creative is or is not shown in ``city`` at ``now``: one of STATUSES."""
        if not self.active:
            return PAUSED
        schedule = self.schedule_status(now, now.astimezone(zone).hour)
        if schedule != SERVING:
            return schedule
        return SERVING if self.eligible_in(city) else OTHER_CITIES

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
    timezone: Optional[str] = None  # the IANA name as configured (None = UTC)
    zone: tzinfo = UTC  # the zone decisions use: UTC when ``timezone`` is unknown
    timezone_warning: Optional[str] = None  # set when ``timezone`` is not a zone this system knows
    frequency_cap: Optional[int] = None  # impressions of one creative per customer and window; None = no cap
    frequency_window_s: int = DEFAULT_FREQUENCY_WINDOW_S
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

    def eligible_at(self, city: Optional[str], now: datetime) -> Tuple[Creative, ...]:
        """The creatives a decision in ``city`` may show at ``now`` (aware): active, in the city, inside
        their flight and hours. Evaluated per request, so a flight starts or ends on time."""
        found = self.eligible(city)
        if not any(c.scheduled for c in found):
            return found
        local_hour = now.astimezone(self.zone).hour
        return tuple(c for c in found if c.schedule_status(now, local_hour) == SERVING)

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
            "SELECT attribution_window_s, holdout_share, objective, horizon_s, timezone, frequency_cap, "
            "frequency_window_s, half_life_s, min_share FROM slots "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        ).one()
        if row is None:
            return None
        rows = self.db.execute(
            "SELECT creative_id, image_url, payload, active, cities, offer_type, price, starts_at, ends_at, hours "
            "FROM creatives "
            "WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id),
        )
        creatives = tuple(_creative(r, tenant, slot_id) for r in rows)
        zone, warning = zone_of(row["timezone"])
        if warning:
            log.warning("unknown slot time zone, deciding in UTC",
                        extra={"tenant": tenant, "platform": platform, "slot_id": slot_id, "timezone": row["timezone"]})
        cap = row["frequency_cap"]
        return SlotConfig(
            tenant=tenant,
            platform=platform,
            slot_id=slot_id,
            attribution_window_s=_positive(row["attribution_window_s"], DEFAULT_ATTRIBUTION_WINDOW_S),
            holdout_share=min(max(row["holdout_share"] or 0.0, 0.0), 1.0),
            objective=_objective(row["objective"], tenant, slot_id),
            horizon_s=_positive(row["horizon_s"], DEFAULT_HORIZON_S),
            creatives=creatives,
            timezone=row["timezone"] or None,
            zone=zone,
            timezone_warning=warning,
            frequency_cap=cap if cap is not None and cap > 0 else None,
            frequency_window_s=_positive(row["frequency_window_s"], DEFAULT_FREQUENCY_WINDOW_S),
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
        starts_at=utc(row["starts_at"]) if row["starts_at"] is not None else None,
        ends_at=utc(row["ends_at"]) if row["ends_at"] is not None else None,
        hours=_hours(row["hours"], tenant, slot_id, row["creative_id"]),
    )


def zone_of(name: Optional[str]) -> Tuple[tzinfo, Optional[str]]:
    """(zone, warning) of a slots.timezone value: UTC and no warning for null or empty; UTC and a
    one-line warning for a name this system's time zone database does not know."""
    if not name or not name.strip():
        return timezone.utc, None
    try:
        return ZoneInfo(name.strip()), None
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc, f"unknown time zone {name!r}: the slot decides in UTC"


def _hours(values, tenant: str, slot_id: str, creative_id: str) -> FrozenSet[int]:
    """The valid hours (0-23) of creatives.hours; others are dropped with a warning. A set of only
    invalid hours would otherwise read as 'every hour', so it becomes 'no hour' (never shown)."""
    given = frozenset(values or ())
    valid = frozenset(h for h in given if 0 <= h <= 23)
    if valid != given:
        log.warning("creative hours outside 0-23 ignored", extra={"tenant": tenant, "slot_id": slot_id,
                                                                  "creative_id": creative_id})
        if not valid:
            return frozenset({-1})
    return valid


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
