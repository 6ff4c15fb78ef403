"""The cost of a frequency cap: one decision for a customer on a capped slot against the same decision
on an uncapped slot, measured in-process (``app.service.choose.decide``, no HTTP) against Cassandra.

Two slots of 10 creatives in a tenant of their own: ``uncapped`` and ``capped`` (frequency_cap high
enough that no customer reaches it, so every capped decision writes its mark and reads the customer's
partition: two round trips, app.service.frequency). The baseline is one round trip of the same driver
to the same Cassandra (``SELECT release_version FROM system.local``): a capped decision cannot cost
less than two of them. Decisions alternate between the kinds so background noise hits all; 500
customers take turns. ``scripts/bench`` runs this after the wrk rounds; ``python -m benchmarks.capped`` runs it alone
against the configured Cassandra (schema applied).
"""
from __future__ import annotations

import secrets
import statistics
import sys
import time
from dataclasses import replace
from typing import Callable, Dict, List

import numpy as np

from app.api.server import SWITCH_INTERVAL_S
from app.settings import Settings

CREATIVES = 10
CUSTOMERS = 500
CAP = 1_000_000
ROUND_TRIP = "one Cassandra round trip"


def measure_capped(settings: Settings, decisions: int = 2000, progress: Callable[[str], None] = print) -> dict:
    """Per-decision latency (ms: p50, p90, p99, mean) of an uncapped and a capped decision for a customer,
    and of an uncapped decision without customer_id."""
    from app.service.choose import DecisionRequest, decide
    from app.service.runtime import Runtime

    rt = Runtime.build(replace(settings, secret=settings.secret or secrets.token_urlsafe(32).encode()),
                       rng=np.random.default_rng(7))
    switch_interval = sys.getswitchinterval()
    # As in a service worker (app.api.server._prepare_worker): a thread waiting for the interpreter
    # lock, such as this one woken by the driver's answer, gets it after 1 ms at most, not 5 ms.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        tenant = f"bench-cap-{secrets.token_hex(3)}"
        rt.tenants.create(tenant)
        for slot_id, cap in (("uncapped", None), ("capped", CAP)):
            rt.db.execute("INSERT INTO slots (tenant, platform, slot_id, frequency_cap) VALUES (?, 'web', ?, ?)",
                          (tenant, slot_id, cap))
            for i in range(CREATIVES):
                rt.db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, active) "
                              "VALUES (?, 'web', ?, ?, true)", (tenant, slot_id, f"c{i}"))
        kinds = {"no customer_id": ("uncapped", False), "uncapped, customer_id": ("uncapped", True),
                 "capped, customer_id": ("capped", True)}
        timings: Dict[str, List[float]] = {kind: [] for kind in (*kinds, ROUND_TRIP)}
        progress(f"frequency cap: {decisions} decisions of each kind, in turn")
        for round_number in range(decisions + 200):  # the first 200 warm caches and connections
            customer = f"u{round_number % CUSTOMERS}"
            for kind, (slot_id, with_customer) in kinds.items():
                request = DecisionRequest(tenant, "web", slot_id, city="pune",
                                          customer_id=customer if with_customer else None)
                started = time.perf_counter()
                decide(rt, request)
                if round_number >= 200:
                    timings[kind].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            rt.db.execute("SELECT release_version FROM system.local")
            if round_number >= 200:
                timings[ROUND_TRIP].append((time.perf_counter() - started) * 1000)
        summary = {kind: _summary(values) for kind, values in timings.items()}
        summary["added_ms_p50"] = summary["capped, customer_id"]["p50"] - summary["uncapped, customer_id"]["p50"]
        summary["added_round_trips"] = summary["added_ms_p50"] / summary[ROUND_TRIP]["p50"]
        return {"decisions": decisions, "creatives": CREATIVES, "customers": CUSTOMERS, "ms": summary}
    finally:
        sys.setswitchinterval(switch_interval)
        rt.close()


def _summary(values: List[float]) -> Dict[str, float]:
    ordered = sorted(values)
    def at(q: float) -> float:
        return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)], 3)
    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "mean": round(statistics.fmean(ordered), 3)}


def format_capped(result: dict) -> str:
    ms = result["ms"]
    lines = [f"{'decision (in-process)':<26}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"]
    for kind in ("no customer_id", "uncapped, customer_id", "capped, customer_id", ROUND_TRIP):
        lines.append(f"{kind:<26}{ms[kind]['p50']:>9.2f}{ms[kind]['p90']:>9.2f}{ms[kind]['p99']:>9.2f}")
    lines.append(f"frequency cap adds {ms['added_ms_p50']:.2f} ms at the median, {ms['added_round_trips']:.1f} "
                 f"round trips (a mark written, then the customer's partition read); "
                 f"{result['decisions']} decisions of each kind")
    return "\n".join(lines)


if __name__ == "__main__":
    import os

    print(format_capped(measure_capped(Settings.from_env(dict(os.environ)))))
