"""Data for report, dashboard and export tests: a simulated run through the app, and holdout rows.

``simulate_visitors`` drives visitors of the demo world (known click rates per city) through the real
app with the Flask test client: GET a decision, click with the city's true rate, POST the click.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from bandit.sim import demo_world


@dataclass
class SimulatedRun:
    visitors: int = 0
    clicks: int = 0
    by_city: Dict[str, List[int]] = field(default_factory=dict)  # city -> [impressions, clicks]
    by_creative: Dict[str, List[int]] = field(default_factory=dict)
    customers: Dict[str, str] = field(default_factory=dict)  # customer_id -> city of the latest visit


def simulate_visitors(client, runtime, tenant, slot_id: str, visitors: int, seed: int = 3,
                      customers: int = 40) -> SimulatedRun:
    """Visitors of the demo world through GET /slot/<id>/creative and POST /click; waits for the writes."""
    world = demo_world()
    rng = np.random.default_rng(seed)
    run = SimulatedRun()
    previous = None
    for _ in range(visitors):
        city = world.sample_city(rng)
        customer = f"c-{int(rng.integers(customers)):03d}"
        if customer == previous:
            # The event log keeps millisecond times: two visits of one customer in the same
            # millisecond would leave "the latest visit" undecided. Keep them apart.
            time.sleep(0.002)
        previous = customer
        answer = client.get(f"/slot/{slot_id}/creative", headers=tenant.headers,
                            query_string={"platform": "web", "city": city, "customer_id": customer})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        decision = answer.get_json()
        creative_id = decision["creative"]["creative_id"]
        clicked = world.clicked(city, creative_id, rng)
        if clicked:
            posted = client.post("/click", json={"decision_id": decision["decision_id"], "customer_id": customer},
                                 headers=tenant.headers)
            assert posted.status_code == 202
        run.visitors += 1
        run.clicks += int(clicked)
        for key, table in ((city, run.by_city), (creative_id, run.by_creative)):
            row = table.setdefault(key, [0, 0])
            row[0] += 1
            row[1] += int(clicked)
        run.customers[customer] = city
    assert runtime.writer.flush(timeout_s=20)
    return run


def add_counts(db, tenant, slot_id: str, segment: str, creative_id: str, impressions: int, clicks: int) -> None:
    """Increment one arm_counts row directly (e.g. the 'holdout' segment, as holdout decisions do)."""
    db.execute("UPDATE arm_counts SET impressions = impressions + ?, clicks = clicks + ? WHERE tenant = ? "
               "AND platform = 'web' AND slot_id = ? AND segment = ? AND creative_id = ?",
               (impressions, clicks, tenant.name, slot_id, segment, creative_id))
