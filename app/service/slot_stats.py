"""GET /slot/<id>/stats: what the slot has learned, per segment and creative, or per referrer."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

import numpy as np

from app.clock import now_utc
from app.errors import NotFound
from app.service.runtime import Runtime
from app.service.savings import counted_savings
from app.service.slot_zone import zone_label
from app.storage import SlotConfig
from app.storage.catalog import REVENUE
from bandit import GLOBAL, ArmCounts, SlotSnapshot, choice_probabilities, posteriors_for
from bandit.holdout import HOLDOUT
from bandit.lift import lift_over_holdout
from bandit.revenue_stats import revenue_summaries

REMOVED = "removed"  # status of a creative with history that is no longer configured
# P(best) by Monte Carlo with 20,000 joint draws: standard error <= sqrt(0.25 / 20000) = 0.0035.
P_BEST_DRAWS = 20_000


def slot_stats(rt: Runtime, tenant: str, platform: str, slot_id: str, city: Optional[str],
               now: Optional[datetime] = None) -> Dict[str, Any]:
    slot = _slot(rt, tenant, platform, slot_id)
    now = now or now_utc()
    # Stats read storage directly (not the decision cache) so they show every write that has landed.
    snapshot = rt.stored_snapshot(tenant, platform, slot_id)
    # A slot with a half-life decides on discounted counts: posteriors and P(best) come from those,
    # raw (all-time) counts stay beside them, and lift and savings keep counting every impression.
    effective = rt.stored_snapshot(tenant, platform, slot_id, slot.half_life_s) if slot.half_life_s else snapshot
    if city is not None:
        segments = [GLOBAL, f"city:{city}"]
    else:
        segments = [GLOBAL] + sorted(s for s in snapshot.segments if s != GLOBAL)
    rng = np.random.default_rng(0)  # fixed: the same counts always show the same P(best)
    return {
        "slot_id": slot_id,
        "platform": platform,
        "objective": slot.objective,
        **serving_controls(slot, now),
        "half_life_s": slot.half_life_s,
        "min_share": slot.min_share,
        "segments": [_segment_stats(rt, slot, effective, segment, rng, now, raw=snapshot) for segment in segments],
        "lift_over_holdout": _lift(snapshot),
        "savings": counted_savings(rt, slot, snapshot),
    }


def _lift(snapshot: SlotSnapshot) -> Dict[str, Any]:
    """Slot-wide lift of the bandit over its holdout: treated = global - holdout, summed over creatives."""
    everyone = sum(snapshot.segments.get(GLOBAL, {}).values(), ArmCounts())
    holdout = sum(snapshot.segments.get(HOLDOUT, {}).values(), ArmCounts())
    # A click's counter batch may land between the reads of two rows: clamp so counts never go negative.
    treated_impressions = max(everyone.impressions - holdout.impressions, 0)
    treated_clicks = max(everyone.clicks - holdout.clicks, 0)
    return lift_over_holdout(treated_clicks, treated_impressions, holdout.clicks, holdout.impressions).as_dict()


def referrer_stats(rt: Runtime, tenant: str, platform: str, slot_id: str) -> Dict[str, Any]:
    _slot(rt, tenant, platform, slot_id)
    referrers = []
    for referrer, by_creative in sorted(rt.counts.read_referrers(tenant, platform, slot_id).items()):
        total = sum(by_creative.values(), ArmCounts())
        referrers.append({
            "referrer": referrer,
            **_ctr(total),
            "creatives": [{"creative_id": cid, **_ctr(c)} for cid, c in sorted(by_creative.items())],
        })
    return {"slot_id": slot_id, "platform": platform, "referrers": referrers}


def _slot(rt: Runtime, tenant: str, platform: str, slot_id: str) -> SlotConfig:
    slot = rt.catalog.load_slot(tenant, platform, slot_id)
    if slot is None:
        raise NotFound(f"unknown slot {slot_id!r} on platform {platform!r}", "unknown_slot")
    return slot


def serving_controls(slot: SlotConfig, now: datetime) -> Dict[str, Any]:
    """The slot's zone (with the local time now), its frequency cap and any configuration warning."""
    return {
        "timezone": zone_label(slot.zone),
        "local_time": now.astimezone(slot.zone).replace(microsecond=0).isoformat(),
        "frequency_cap": slot.frequency_cap,
        "frequency_window_s": slot.frequency_window_s,
        "warnings": [slot.timezone_warning] if slot.timezone_warning else [],
    }


def creative_status(slot: SlotConfig, creative_id: str, city: Optional[str], now: datetime) -> str:
    """Why a creative is or is not shown in ``city`` now (app.storage.catalog STATUSES), or 'removed'."""
    creative = slot.creative(creative_id)
    return creative.status(city, now, slot.zone) if creative is not None else REMOVED


def _segment_stats(rt: Runtime, slot: SlotConfig, snapshot: SlotSnapshot, segment: str,
                   rng: np.random.Generator, now: datetime, raw: SlotSnapshot) -> Dict[str, Any]:
    """One segment's rows: posteriors from ``snapshot`` (discounted for a slot with a half-life),
    impressions and clicks from ``raw`` (all-time) and the effective ones from ``snapshot``."""
    city = segment[len("city:"):] if segment.startswith("city:") else None
    eligible = [c.creative_id for c in slot.eligible_at(city, now)]
    # Eligible creatives, those out of their flight or hours now (their status says so), and any other
    # with history here (paused or removed ones keep their counts).
    creative_ids = sorted({c.creative_id for c in slot.eligible(city)} | set(raw.segments.get(segment, {}))
                          | set(snapshot.segments.get(segment, {})))
    if not creative_ids:
        return {"segment": segment, "decided_by": GLOBAL, "creatives": []}
    config = rt.policy.config
    used, posteriors = posteriors_for(snapshot, segment, creative_ids, config)
    p_best = {}
    if eligible:
        index = [creative_ids.index(cid) for cid in eligible]
        probabilities = choice_probabilities(
            np.array([posteriors[i].alpha for i in index]), np.array([posteriors[i].beta for i in index]),
            rng, n_draws=P_BEST_DRAWS,
        )
        p_best = dict(zip(eligible, probabilities))
    revenue = _revenue_stats(rt, slot, snapshot, segment, creative_ids, eligible, rng, raw) \
        if slot.objective == REVENUE else {}
    rows: List[Dict[str, Any]] = []
    for cid, posterior in zip(creative_ids, posteriors):
        counts, effective = raw.counts(segment, cid), snapshot.counts(segment, cid)
        low, high = posterior.credible_interval(0.95)
        rows.append({
            "creative_id": cid,
            "impressions": counts.impressions,
            "clicks": counts.clicks,
            "effective_impressions": round(float(effective.impressions), 3),
            "effective_clicks": round(float(effective.clicks), 3),
            "alpha": round(posterior.alpha, 6),
            "beta": round(posterior.beta, 6),
            "mean": round(posterior.mean, 6),
            "ci95": [round(low, 6), round(high, 6)],
            "p_best": round(float(p_best[cid]), 4) if cid in p_best else None,
            "eligible": cid in p_best,
            "status": creative_status(slot, cid, city, now),
            **({"revenue": revenue[cid]} if cid in revenue else {}),
        })
    return {"segment": segment, "decided_by": used, "creatives": rows}


def _revenue_stats(rt: Runtime, slot: SlotConfig, snapshot: SlotSnapshot, segment: str, creative_ids: List[str],
                   eligible: List[str], rng: np.random.Generator, raw: SlotSnapshot) -> Dict[str, Dict[str, Any]]:
    """{creative_id: attributed purchases and gross revenue in this segment (all-time from ``raw``, and
    the effective ones of ``snapshot``, discounted for a slot with a half-life), the factor posteriors
    and the value per impression} of every offer shown (paused ones and others out of eligibility keep
    their numbers), as the revenue policy sees them when it decides for this segment
    (bandit.revenue_stats). P(best) is among the eligible offers only: None for the others."""
    prices = {cid: c.price for cid in creative_ids for c in [slot.creative(cid)] if c is not None and c.price}
    config = rt.revenue_policy.revenue_config
    _, summaries = revenue_summaries(snapshot, segment, creative_ids, prices, config, rng)
    p_best = {s.creative_id: s.probability_best for s in summaries}
    if eligible and set(eligible) != set(creative_ids):
        _, among_eligible = revenue_summaries(snapshot, segment, eligible, prices, config, rng)
        p_best = {s.creative_id: s.probability_best for s in among_eligible}
    elif not eligible:
        p_best = {}
    out = {}
    for summary in summaries:
        cid = summary.creative_id
        totals, effective = raw.revenue_totals(segment, cid), snapshot.revenue_totals(segment, cid)
        out[cid] = {
            "purchases": round(totals.purchases, 6),
            "gross": round(totals.gross, 6),
            "effective_purchases": round(effective.purchases, 6),
            "effective_gross": round(effective.gross, 6),
            "purchase_rate": round(summary.purchase_rate, 6),
            "refund_rate": round(summary.refund_rate, 6),
            "amount": round(summary.amount, 6),
            "value": round(summary.value, 6),
            "value_ci95": [round(summary.value_ci95[0], 6), round(summary.value_ci95[1], 6)],
            "p_best": round(p_best[cid], 4) if cid in p_best else None,
        }
    return out


def _ctr(counts: ArmCounts) -> Dict[str, Any]:
    ctr = counts.clicks / counts.impressions if counts.impressions else None
    return {"impressions": counts.impressions, "clicks": counts.clicks,
            "ctr": round(ctr, 6) if ctr is not None else None}
