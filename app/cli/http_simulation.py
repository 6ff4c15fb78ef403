"""``slotbandit simulate``: synthetic visitors of the demo world through the real HTTP API."""
from __future__ import annotations

import http.client
import json
import time
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlencode, urlsplit

import numpy as np

from bandit.sim import SimulationReport, demo_world

PROGRESS_EVERY_S = 2.0


class SimulationError(Exception):
    """The service could not be driven; one line for the operator."""


def run_http_simulation(base_url: str, api_key: str, slot: str, platform: str, visitors: int, seed: int,
                        progress: Callable[[str], None] = print) -> SimulationReport:
    """Each visitor: GET a decision for its city, click with the city's true rate, POST the click."""
    world = demo_world()
    rng = np.random.default_rng(seed)
    report = SimulationReport(world)
    http = ServiceClient(base_url, api_key)
    started = last = time.monotonic()
    for visitor in range(1, visitors + 1):
        city = world.sample_city(rng)
        decision = http.call("GET", f"/slot/{slot}/creative?" + urlencode({"platform": platform, "city": city}))
        creative_id = decision["creative"]["creative_id"]
        if creative_id not in world.creative_ids:
            raise SimulationError(f"slot {slot!r} serves {creative_id!r}, which the demo world does not know: "
                                  "simulate against the demo tenant's home-banner slot")
        clicked = world.clicked(city, creative_id, rng)
        if clicked:
            http.call("POST", "/click", {"decision_id": decision["decision_id"]})
        report.record(city, creative_id, clicked)
        if time.monotonic() - last >= PROGRESS_EVERY_S or visitor == visitors:
            last = time.monotonic()
            rate = visitor / max(last - started, 1e-9)
            progress(f"  {visitor}/{visitors} visitors ({rate:.0f}/s), click-through so far {report.ctr:.2%}")
    return report


class ServiceClient:
    """One keep-alive HTTP connection to the service (reopened when the server closes it)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SimulationError(f"--url must look like http://127.0.0.1:8000, but {base_url!r} is given")
        self._base = base_url.rstrip("/")
        self._parts = parts
        self._headers = {"X-Api-Key": api_key}
        self._connection: Optional[http.client.HTTPConnection] = None

    def call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> dict:
        url = self._base + path
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                connection = self._connect()
                connection.request(method, self._parts.path.rstrip("/") + path, body=data, headers=headers)
                response = connection.getresponse()
                status, text = response.status, response.read().decode("utf-8", "replace")
                break
            except (OSError, http.client.HTTPException) as error:
                self._close()
                if attempt == 2:
                    raise SimulationError(f"cannot reach the service at {url}: {type(error).__name__}") from None
        if status >= 400:
            try:
                detail = json.loads(text)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                detail = text[:200]
            raise SimulationError(f"{method} {url} answered {status}: {detail}")
        return json.loads(text)

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            self._connection = kind(self._parts.hostname, self._parts.port, timeout=10)
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None
