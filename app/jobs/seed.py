"""Seed a slot's priors from history: read and filter in Spark, fit on the driver, write to Cassandra.

Steps: load the slot's creatives; classify and aggregate the history (app.jobs.history); keep
cities with at least min_impressions usable impressions at city level and fold the others into
the slot-wide level; fit a cold-start model when some creative has no history; fit the priors
(bandit.priors); replace the slot's rows in arm_priors unless dry_run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

from app.storage.db import Database
from app.jobs.cold_start import ColdStartModel, creative_tags
from app.jobs.history import HistoryCounts, HistoryFilter, check_history, classify, read_history, summarize
from app.storage import CatalogStore, SlotConfig
from app.storage.priors import PriorsStore
from bandit import ArmCounts
from bandit.priors import COLD_START, PriorConfig, SlotPriors, fit_slot_priors

STEPS = ("loading the slot", "reading and filtering history", "fitting priors", "writing priors", "done")


class SeedError(Exception):
    """A seed cannot run; ``str(error)`` is the one line for the operator."""


@dataclass(frozen=True)
class SeedRequest:
    history: str
    tenant: str
    platform: str
    slot_id: str
    min_impressions: int = 0
    cities: Optional[Tuple[str, ...]] = None
    max_strength: float = 50.0
    dry_run: bool = False


@dataclass
class SeedResult:
    counts: HistoryCounts
    kept_cities: Dict[str, int]  # city -> usable impressions, seeded at city level
    folded_cities: Dict[str, int]  # below min_impressions: counted slot-wide only
    cities_without_history: Tuple[str, ...]
    priors: SlotPriors
    history_by_segment: Dict[Tuple[str, str], ArmCounts] = field(default_factory=dict)
    written: int = 0


def run_seed(spark, db: Database, request: SeedRequest, slot: SlotConfig, step: Callable[[str], None] = lambda s: None,
             written: Optional[Callable[[int], None]] = None) -> SeedResult:
    """Run the whole seed of ``slot`` (as ``check_seed`` gave it, before Spark started); ``step`` is
    told each stage as it starts, ``written`` each batch of rows."""
    step(STEPS[0])
    creative_ids = tuple(sorted(c.creative_id for c in slot.creatives))
    step(STEPS[1])
    cities = frozenset(request.cities) if request.cities else None
    frame, layout = read_history(spark, request.history)
    counts = summarize(classify(frame, layout, HistoryFilter(request.platform, request.slot_id,
                                                             frozenset(creative_ids), cities)), layout)
    step(STEPS[2])
    kept, folded = split_cities(counts, request.min_impressions)
    slot_history, city_history = _history(counts, kept)
    without_history = tuple(sorted(set(request.cities or ()) - set(kept) - set(folded)))
    model = _cold_start_model(counts, slot, creative_ids, slot_history)
    config = PriorConfig(max_strength=request.max_strength,
                         cold_start_strength=min(PriorConfig.cold_start_strength, request.max_strength))
    priors = fit_slot_priors(slot_history, city_history, creative_ids, sorted(kept) + list(without_history),
                             config, model.predict if model else None)
    result = SeedResult(counts, kept, folded, without_history, priors,
                        _history_by_segment(slot_history, city_history))
    if not request.dry_run:
        step(STEPS[3])
        result.written = PriorsStore(db).replace_slot(request.tenant, request.platform, request.slot_id,
                                                      priors.priors, progress=written)
    step(STEPS[4])
    return result


def check_seed(db: Database, request: SeedRequest):
    """The slot to seed, after checking everything that needs no Spark: the history file and its
    columns, the slot and its creatives. Raises HistoryError or SeedError in one line."""
    check_history(request.history)
    slot = CatalogStore(db).load_slot(request.tenant, request.platform, request.slot_id)
    if slot is None:
        raise SeedError(f"tenant {request.tenant!r} has no slot {request.slot_id!r} on platform {request.platform!r}")
    if not slot.creatives:
        raise SeedError(f"slot {request.slot_id!r} has no creatives to seed")
    return slot


def split_cities(counts: HistoryCounts, min_impressions: int) -> Tuple[Dict[str, int], Dict[str, int]]:
    """({city: impressions} kept at city level, {city: impressions} folded into the slot-wide level)."""
    totals: Dict[str, int] = {}
    for city, _, _, impressions, _ in counts.cells:
        if city is not None:
            totals[city] = totals.get(city, 0) + impressions
    kept = {c: n for c, n in totals.items() if n >= max(min_impressions, 1)}
    folded = {c: n for c, n in totals.items() if c not in kept}
    return kept, folded


def _history(counts: HistoryCounts, kept: Dict[str, int]):
    """({creative: slot-wide counts}, {kept city: {creative: counts}}) from the usable cells."""
    slot_history: Dict[str, ArmCounts] = {}
    city_history: Dict[str, Dict[str, ArmCounts]] = {}
    for city, creative_id, _, impressions, clicks in counts.cells:
        cell = ArmCounts(impressions, clicks)
        slot_history[creative_id] = slot_history.get(creative_id, ArmCounts()) + cell
        if city in kept:
            by_creative = city_history.setdefault(city, {})
            by_creative[creative_id] = by_creative.get(creative_id, ArmCounts()) + cell
    return slot_history, city_history


def _cold_start_model(counts: HistoryCounts, slot, creative_ids, slot_history) -> Optional[ColdStartModel]:
    """The fitted model when some creative has no history and the history can train one, else None."""
    if all(slot_history.get(cid, ArmCounts()).impressions > 0 for cid in creative_ids):
        return None
    tags = {c.creative_id: creative_tags(c.payload) for c in slot.creatives}
    try:
        return ColdStartModel(tags).fit(counts.cells)
    except ValueError:
        return None


def _history_by_segment(slot_history, city_history) -> Dict[Tuple[str, str], ArmCounts]:
    """{(segment, creative_id): history counts} for the report."""
    table = {("global", cid): c for cid, c in slot_history.items()}
    for city, by_creative in city_history.items():
        table.update({(f"city:{city}", cid): c for cid, c in by_creative.items()})
    return table


def format_report(result: SeedResult, request: SeedRequest) -> str:
    """The tables printed by seed-priors: rows per reason, cities, and every prior seeded."""
    from app.jobs.history import REASONS

    lines = [f"history: {sum(result.counts.rows_by_reason.values())} rows ({result.counts.layout})",
             f"{'rows':>10}  reason"]
    for reason in REASONS:
        if result.counts.rows_by_reason.get(reason):
            lines.append(f"{result.counts.rows_by_reason[reason]:>10}  {reason}: {REASONS[reason]}")
    lines.append("")
    lines.append(f"cities at city level ({len(result.kept_cities)}): "
                 + ", ".join(f"{c} ({n})" for c, n in sorted(result.kept_cities.items())))
    if result.folded_cities:
        lines.append(f"cities folded into slot-wide, under {request.min_impressions} impressions "
                     f"({len(result.folded_cities)}): "
                     + ", ".join(f"{c} ({n})" for c, n in sorted(result.folded_cities.items())))
    if result.cities_without_history:
        lines.append("cities without history (pooled prior): " + ", ".join(result.cities_without_history))
    lines.append(f"between-city strength s = {result.priors.city_strength:.1f} (beta-binomial method of moments), "
                 f"cap {request.max_strength:g}")
    lines.append("")
    lines.append(f"{'segment':<20} {'creative':<14} {'source':<10} {'history n/k':>14} {'alpha':>9} {'beta':>9} "
                 f"{'mean':>7}")
    for p in sorted(result.priors.priors, key=lambda p: (p.segment != "global", p.segment, p.creative_id)):
        h = result.history_by_segment.get((p.segment, p.creative_id))
        seen = f"{h.impressions}/{h.clicks}" if h and p.source != COLD_START else "-"
        lines.append(f"{p.segment:<20} {p.creative_id:<14} {p.source:<10} {seen:>14} {p.prior.alpha:>9.3f} "
                     f"{p.prior.beta:>9.3f} {p.prior.mean:>7.4f}")
    verb = "would write" if request.dry_run else "wrote"
    lines.append("")
    lines.append(f"{verb} {len(result.priors.priors)} priors for {request.tenant}/{request.platform}/{request.slot_id}"
                 + (" (dry run: nothing written)" if request.dry_run else ""))
    return "\n".join(lines)
