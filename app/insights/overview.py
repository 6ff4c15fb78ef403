"""What the dashboard shows: a tenant's slots, and per slot its live traffic share, posteriors and lift.

Every read is scoped to the tenant of the request's key; another tenant's slot is simply unknown (404).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

from app.insights.best import lift_summary
from app.insights.timeline import tally
from app.service.slot_stats import slot_stats
from app.service.runtime import Runtime
from app.service.slot_zone import zone_label
from app.storage.history import HistoryStore

DEFAULT_WINDOW_S = 3600


def list_slots(rt: Runtime, tenant: str, platform: str) -> Dict[str, Any]:
    """The tenant's slots on one platform with their objective, holdout share and creative counts, and
    every platform the tenant has slots on (for the dashboard's platform switch)."""
    slots = []
    for summary in HistoryStore(rt.db).slots(tenant, platform):
        config = rt.catalog.load_slot(tenant, platform, summary.slot_id)
        creatives = config.creatives if config else ()
        slots.append({
            "slot_id": summary.slot_id,
            "description": summary.description,
            "objective": summary.objective,
            "holdout_share": summary.holdout_share,
            "creatives": len(creatives),
            "active_creatives": sum(1 for c in creatives if c.active),
            "timezone": zone_label(config.zone) if config else "UTC",
            "frequency_cap": config.frequency_cap if config else None,
            "warnings": [config.timezone_warning] if config and config.timezone_warning else [],
        })
    return {"platform": platform, "platforms": rt.catalog.platforms(tenant), "slots": slots}


def slot_overview(rt: Runtime, tenant: str, platform: str, slot_id: str, window_s: int = DEFAULT_WINDOW_S,
                  city: Optional[str] = None, now: Optional[datetime] = None) -> Dict[str, Any]:
    """Stats of the slot (as GET /slot/<id>/stats), its traffic share over the last ``window_s``
    seconds of the event log, and its lift over the holdout group (None: no holdout data yet)."""
    stats = slot_stats(rt, tenant, platform, slot_id, city)  # 404 for an unknown or foreign slot
    end = now or datetime.now(timezone.utc)
    start = end - timedelta(seconds=window_s)
    recent = tally(HistoryStore(rt.db).events(tenant, platform, slot_id, start, end), start, end, bucket="hour")
    total = recent.impressions
    traffic = [
        {"creative_id": cid, "impressions": c.impressions, "clicks": c.clicks,
         "share": round(c.impressions / total, 6) if total else None}
        for cid, c in sorted(recent.by_creative.items())
    ]
    segments = [s for s in stats["segments"] if s["segment"] != "holdout"]
    return {
        "slot_id": slot_id,
        "platform": platform,
        "traffic": {"window_s": window_s, "impressions": total, "clicks": recent.clicks, "creatives": traffic},
        "lift": lift_summary(rt.counts.read_slot(tenant, platform, slot_id)),
        "timezone": stats["timezone"],  # the creatives' hours and the slot's days are in this zone
        "local_time": stats["local_time"],
        "segments": segments,
        "savings": stats["savings"],
        "half_life_s": stats["half_life_s"],
    }
