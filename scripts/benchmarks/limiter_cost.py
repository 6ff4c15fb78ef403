"""The rate limiter's cost per request, measured in a process set up as a gunicorn worker is.

``python -m benchmarks.limiter_cost`` prints one JSON object: microseconds per request of
``RateLimiter.admit`` (the limit from a warm cache, one token from the shared bucket under its
record lock, the per-tenant counter in Prometheus' multiprocess files) and of the bucket alone.
``scripts/bench`` runs it and prints the figures beside the throughput ratio. It sets
PROMETHEUS_MULTIPROC_DIR itself, before prometheus_client is imported, as ``slotbandit serve`` does.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

CALLS = 50_000


def measure(calls: int = CALLS) -> dict:
    from app.service.rate_limits import Limit, RateLimiter
    from app.service.shared_buckets import SharedBuckets

    with tempfile.TemporaryDirectory(prefix="slotbandit-limiter-") as tmp:
        buckets = SharedBuckets(Path(tmp) / "buckets")
        limiter = RateLimiter({"demo": Limit(1e9, 1e9)}.__getitem__, SharedBuckets(Path(tmp) / "admit"))
        limiter.admit("demo")  # map the file, find the record, create the counter: once per process
        buckets.take("demo", 1e9, 1e9, time.monotonic())
        started = time.perf_counter()
        for _ in range(calls):
            limiter.admit("demo")
        admit_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(calls):
            buckets.take("demo", 1e9, 1e9, time.monotonic())
        bucket_s = time.perf_counter() - started
        limiter.close()
        buckets.close()
    return {"calls": calls, "admit_us": admit_s / calls * 1e6, "bucket_us": bucket_s / calls * 1e6}


def main() -> None:
    metrics_dir = tempfile.mkdtemp(prefix="slotbandit-limiter-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        print(json.dumps(measure()))
    finally:
        for path in Path(metrics_dir).glob("*"):
            path.unlink()
        os.rmdir(metrics_dir)


if __name__ == "__main__":
    sys.exit(main())
