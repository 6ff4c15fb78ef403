"""Prometheus metrics. Under gunicorn, ``slotbandit serve`` sets PROMETHEUS_MULTIPROC_DIR before any
import of prometheus_client, so /metrics sums every worker; in a single process the default
registry is used."""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

DECISIONS = Counter("slotbandit_decisions_total", "Creatives chosen", ["policy"])
CLICKS = Counter("slotbandit_clicks_total", "POST /click answers by result", ["result"])
CLICKS_AMBIGUOUS = Counter(
    "slotbandit_clicks_ambiguous_total",
    "Clicks whose counter write timed out (claimed, maybe counted; the retry settles them by their mark)",
)
IMPRESSIONS_WRITTEN = Counter("slotbandit_impressions_written_total", "Impressions written to Cassandra")
IMPRESSIONS_DROPPED = Counter(
    "slotbandit_impressions_dropped_total", "Impressions not written (write queue full or ambiguous failure)", ["reason"]
)
WRITE_QUEUE = Gauge("slotbandit_write_queue_depth", "Impressions waiting to be written", multiprocess_mode="livesum")
CACHE_REFRESH_ERRORS = Counter("slotbandit_cache_refresh_errors_total", "Failed background cache refreshes", ["cache"])
REQUEST_LATENCY = Histogram(
    "slotbandit_request_duration_seconds",
    "Request latency by endpoint",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENTS = Counter("slotbandit_events_total", "Events of POST /events by result", ["result"])
LABELS_CHANGED = Counter("slotbandit_revenue_labels_changed_total", "Revenue labels of decisions written anew")
ATTRIBUTION_ERRORS = Counter("slotbandit_attribution_errors_total",
                             "Attributions after a click that failed (redone at the customer's next payment)")
COUNTER_WRITES_AMBIGUOUS = Counter(
    "slotbandit_counter_writes_ambiguous_total",
    "Counter batches whose outcome was unknown (timeout, node lost); settled later by their mark", ["kind"])
COUNTER_WRITES_SETTLED = Counter(
    "slotbandit_counter_writes_settled_total",
    "Counter batches of unknown outcome, settled: landed (once), reapplied (never landed), taken_back (twice)",
    ["kind", "outcome"])
WRITER_HOLDING = Counter("slotbandit_writer_holding_total",
                         "Rounds in which the impression writer held its writes because storage was down")
CLICKS_TAKEN_OVER = Counter("slotbandit_clicks_taken_over_total",
                            "Unfinished clicks (claimed, not counted) completed by a retry of the same click")
TENANT_REQUESTS = Counter("slotbandit_tenant_requests_total",
                          "Tenant requests by rate limit result: allowed or limited (answered 429)",
                          ["tenant", "result"])
BUCKETS_PRUNED = Counter("slotbandit_buckets_pruned_total",
                         "Time buckets (and bucket rows of the stream and revenue totals) of half-life slots deleted "
                         "once no snapshot reads them and no write can reach them")
ERRORS = Counter("slotbandit_errors_total", "Error answers by HTTP status and code", ["status", "code"])


def render() -> tuple:
    """The Prometheus text exposition of this process, or of all workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
