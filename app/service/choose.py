"""GET /slot/<id>/creative: choose a creative, sign the decision, queue the impression."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from app import metrics
from app.clock import now_utc
from app.errors import NotFound
from app.service.feature_segments import feature_segment
from app.service.frequency import FrequencyCounts
from app.service.runtime import Runtime
from app.storage.impressions import Impression
from app.storage.catalog import REVENUE, Creative, SlotConfig
from app.decision_ids import DecisionToken
from bandit import GLOBAL, Decision
from bandit.holdout import HOLDOUT, in_holdout, uniform_choice
from bandit.policies.exploration import with_floor

POLICY = "thompson"
_HOLDOUT_RNG = np.random.default_rng()  # per-request holdout draws and uniform picks (thread-safe)


@dataclass(frozen=True)
class DecisionRequest:
    tenant: str
    platform: str
    slot_id: str
    city: Optional[str] = None
    segment: Optional[str] = None
    customer_id: Optional[str] = None
    referrer: Optional[str] = None
    feature: Optional[str] = None  # leaf of the slot's feature segment model (app.service.feature_segments)

    def count_segments(self) -> List[str]:
        """The count rows an impression goes to: always 'global', plus its city and named segment."""
        rows = [GLOBAL]
        if self.city:
            rows.append(f"city:{self.city}")
        if self.segment:
            rows.append(f"segment:{self.segment}")
        if self.feature:
            rows.append(f"feature:{self.feature}")
        return rows

    def deciding_segment(self) -> Optional[str]:
        """The most specific leaf to decide on; the policy falls back to 'global' while it has no data."""
        if self.segment:
            return f"segment:{self.segment}"
        if self.feature:
            return f"feature:{self.feature}"
        if self.city:
            return f"city:{self.city}"
        return None


def decide(rt: Runtime, req: DecisionRequest) -> Dict[str, Any]:
    slot = rt.slot(req.tenant, req.platform, req.slot_id)
    if slot is None:
        raise NotFound(f"unknown slot {req.slot_id!r} on platform {req.platform!r}", "unknown_slot")
    feature = feature_segment(rt, req.tenant, req.platform, req.slot_id, req.customer_id, req.segment)
    if feature is not None:
        req = replace(req, feature=feature)
    now = now_utc()
    eligible = slot.eligible_at(req.city, now)
    if not eligible:
        raise NotFound("the slot has no creative for this city at this time", "no_eligible_creative")
    holdout = in_holdout(slot.holdout_share, req.tenant, req.platform, req.slot_id, req.customer_id, _HOLDOUT_RNG)
    policy = HOLDOUT if holdout else POLICY
    caps = FrequencyCounts.begin(rt.frequency, rt.cap_hints, slot, req.customer_id, now)
    while True:  # ends: each claim refused leaves fewer candidates (app.service.frequency)
        # Eligibility is the policy's input: the propensity is over the creatives really eligible now.
        capped = caps.capped() if caps else frozenset()
        candidates = tuple(c for c in eligible if c.creative_id not in capped)
        if not candidates and not caps.read:  # all capped by what this process remembers: make sure
            caps.refresh()
            continue
        if not candidates:
            raise NotFound("every creative eligible here has reached the slot's frequency cap for this customer",
                           "frequency_capped")
        choice = _choose(rt, req, slot, candidates, holdout, note=not capped)
        if caps is None or caps.claim(choice.creative_id, frozenset(c.creative_id for c in candidates)):
            break
        # Some candidates were at the cap after all (other workers showed them meanwhile, or this process
        # had not seen the customer yet): decide again among the others.
    by_id = {c.creative_id: c for c in candidates}
    creative = by_id[choice.creative_id]

    issued_ms = int(time.time() * 1000)
    # A holdout impression (and its click) also counts in the 'holdout' row, which never decides.
    segments = req.count_segments() + ([HOLDOUT] if policy == HOLDOUT else [])
    token = DecisionToken(req.tenant, req.platform, req.slot_id, creative.creative_id, tuple(segments), issued_ms,
                          DecisionToken.new_nonce(), req.city, req.referrer,
                          req.customer_id if slot.objective == REVENUE else None)
    decision_id = rt.signer.sign(token)
    _queue_impression(rt, req, token, decision_id, choice.segment, choice.propensity, policy, slot.half_life_s)
    metrics.DECISIONS.labels(policy).inc()
    shown = {"creative_id": creative.creative_id, "image_url": creative.image_url, "payload": creative.payload}
    if creative.is_offer:
        shown.update(offer_type=creative.offer_type, price=creative.price)
    return {
        "decision_id": decision_id,
        "slot_id": req.slot_id,
        "platform": req.platform,
        "creative": shown,
        "segment": choice.segment,
        "policy": policy,
        "propensity": round(float(choice.propensity), 6),
    }


def _choose(rt: Runtime, req: DecisionRequest, slot: SlotConfig, candidates: Tuple[Creative, ...], holdout: bool,
            note: bool = True) -> Decision:
    """One creative among ``candidates`` with its propensity: a uniform pick in the holdout, else the
    slot's policy. ``note`` lets the prewarmer remember the lookup (not for per-customer capped sets)."""
    if holdout:
        index, propensity = uniform_choice(len(candidates), _HOLDOUT_RNG)
        return Decision(candidates[index].creative_id, HOLDOUT, propensity)
    snapshot = rt.snapshot(req.tenant, req.platform, req.slot_id)
    segment, ids, key = req.deciding_segment(), tuple(c.creative_id for c in candidates), (req.tenant, req.platform,
                                                                                           req.slot_id)
    if slot.objective == REVENUE:  # value per impression: click x purchase x (1 - refund) x amount
        prices = {c.creative_id: c.price for c in candidates if c.price}  # a free or unpriced offer: None
        if note:
            rt.prewarmer.note(key, rt.revenue_policy, segment, ids, prices)
        choice = rt.revenue_policy.decide(snapshot, segment, ids, prices)
        return explore(choice, ids, slot.min_share,
                       lambda: rt.revenue_policy.probabilities(snapshot, segment, ids, prices)[1])
    if note:
        rt.prewarmer.note(key, rt.policy, segment, ids)
    choice = rt.policy.decide(snapshot, segment, ids)
    return explore(choice, ids, slot.min_share, lambda: rt.policy.probabilities(snapshot, segment, ids)[1])


def _queue_impression(rt: Runtime, req: DecisionRequest, token: DecisionToken, decision_id: str,
                      segment: str, propensity: float, policy: str = POLICY, half_life_s: Optional[int] = None) -> None:
    rt.writer.submit(Impression(token, decision_id, segment, req.customer_id, policy, float(propensity), half_life_s))


def explore(choice: Decision, ids: Tuple[str, ...], min_share: float,
            probabilities: Callable[[], np.ndarray]) -> Decision:
    """The policy's choice under the slot's exploration floor (bandit.policies.exploration): with
    probability K f a uniform pick, and the mixture propensity f + (1 - K f) q_j either way."""
    if not min_share:
        return choice
    return with_floor(choice, ids, probabilities(), min_share, _HOLDOUT_RNG)
