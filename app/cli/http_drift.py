"""``slotbandit simulate --drift``: a creative wears out and another rises, through the real HTTP API
in real time, scored per period (bandit.sim.drift)."""
from __future__ import annotations

import time
from typing import Callable, Tuple
from urllib.parse import urlencode

import numpy as np

from app.cli.http_simulation import ServiceClient, SimulationError
from bandit.sim.drift import DriftRecorder, DriftScenario

PROGRESS_EVERY_S = 10.0


def slot_creatives(client: ServiceClient, slot: str, platform: str) -> Tuple[Tuple[str, ...], dict]:
    """The slot's eligible creatives (sorted) and its stats, from GET /slot/<id>/stats."""
    stats = client.call("GET", f"/slot/{slot}/stats?" + urlencode({"platform": platform}))
    segment = next((s for s in stats["segments"] if s["segment"] == "global"), {"creatives": []})
    ids = tuple(sorted(c["creative_id"] for c in segment["creatives"] if c["eligible"]))
    if len(ids) < 2:
        raise SimulationError(f"slot {slot!r} needs at least 2 eligible creatives for the drift scenario")
    return ids, stats


def run_http_drift(base_url: str, api_key: str, slot: str, platform: str, seed: int, change_at_s: float,
                   duration_s: float, visitors_per_s: float, period_s: float,
                   progress: Callable[[str], None] = print) -> Tuple[DriftRecorder, dict]:
    """Visitors at ``visitors_per_s`` for ``duration_s`` seconds of wall time. The slot's first
    creative (sorted by id) is best until ``change_at_s``, then the second; the others stay at 3 %.
    Returns the scored run and the slot's stats at the start (its half-life and floor)."""
    client = ServiceClient(base_url, api_key)
    ids, stats = slot_creatives(client, slot, platform)
    scenario = DriftScenario(creative_ids=ids, change_at_s=change_at_s, duration_s=duration_s,
                             visitors_per_s=visitors_per_s)
    recorder = DriftRecorder(scenario, period_s)
    rng = np.random.default_rng(seed)
    query = "?" + urlencode({"platform": platform})
    started = time.monotonic()
    next_report = PROGRESS_EVERY_S
    for visitor in range(int(duration_s * visitors_per_s)):
        due = visitor / visitors_per_s
        wait = started + due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        t = time.monotonic() - started
        decision = client.call("GET", f"/slot/{slot}/creative{query}")
        creative_id = decision["creative"]["creative_id"]
        clicked = bool(rng.random() < scenario.rates(t).get(creative_id, 0.0))
        if clicked:
            client.call("POST", "/click", {"decision_id": decision["decision_id"]})
        recorder.record(t, creative_id, clicked)
        if t >= next_report:
            next_report += PROGRESS_EVERY_S
            progress(f"  {t:.0f}/{duration_s:.0f} s, {visitor + 1} visitors, new best shown to "
                     f"{recorder.share_of_rising(max(0.0, t - PROGRESS_EVERY_S), t):.0%} of the last "
                     f"{PROGRESS_EVERY_S:.0f} s")
    return recorder, stats
