"""``slotbandit simulate``: synthetic visitors of the demo world through the real HTTP API."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import requests

from bandit import SimulationReport, demo_world

PROGRESS_EVERY_S = 2.0


class SimulationError(Exception):
    """The service could not be driven; one line for the operator."""


def run_http_simulation(base_url: str, api_key: str, slot: str, platform: str, visitors: int, seed: int,
                        progress: Callable[[str], None] = print) -> SimulationReport:
    """Each visitor: GET a decision for its city, click with the city's true rate, POST the click."""
    world = demo_world()
    rng = np.random.default_rng(seed)
    report = SimulationReport(world)
    http = requests.Session()
    http.headers["X-Api-Key"] = api_key
    started = last = time.monotonic()
    for visitor in range(1, visitors + 1):
        city = world.sample_city(rng)
        decision = _call(http.get, f"{base_url}/slot/{slot}/creative", params={"platform": platform, "city": city})
        creative_id = decision["creative"]["creative_id"]
        if creative_id not in world.creative_ids:
            raise SimulationError(f"slot {slot!r} serves {creative_id!r}, which the demo world does not know: "
                                  "simulate against the demo tenant's home-banner slot")
        clicked = world.clicked(city, creative_id, rng)
        if clicked:
            _call(http.post, f"{base_url}/click", json={"decision_id": decision["decision_id"]})
        report.record(city, creative_id, clicked)
        if time.monotonic() - last >= PROGRESS_EVERY_S or visitor == visitors:
            last = time.monotonic()
            rate = visitor / max(last - started, 1e-9)
            progress(f"  {visitor}/{visitors} visitors ({rate:.0f}/s), click-through so far {report.ctr:.2%}")
    return report


def _call(method, url: str, **kwargs) -> dict:
    try:
        response = method(url, timeout=10, **kwargs)
    except requests.RequestException as error:
        raise SimulationError(f"cannot reach the service at {url}: {type(error).__name__}") from None
    if response.status_code >= 400:
        try:
            detail = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = response.text[:200]
        raise SimulationError(f"{response.request.method} {url} answered {response.status_code}: {detail}")
    return response.json()
