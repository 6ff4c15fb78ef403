"""Per-request latency histograms, error counters and an optional JSON access log."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, request

from app import metrics

log = logging.getLogger("slotbandit.access")


def init_app(app: Flask, access_log: bool = False) -> None:
    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.REQUEST_LATENCY.labels(endpoint).observe(elapsed)
        if response.status_code >= 400:
            body = response.get_json(silent=True) or {}
            code = (body.get("error") or {}).get("code", "unknown") if isinstance(body, dict) else "unknown"
            metrics.ERRORS.labels(str(response.status_code), code).inc()
        if access_log:
            log.info("request", extra={"method": request.method, "path": request.path,
                                       "status": response.status_code, "ms": round(elapsed * 1000, 2),
                                       "tenant": g.get("tenant")})
        return response
