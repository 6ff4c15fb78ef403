"""What a discounted snapshot costs to read: 30 time buckets against the all-time counters.

Writes one slot of --creatives creatives counted in 'global' and --cities cities, into the plain
counters (arm_counts) and into each of the last 30 time buckets of a 60 s half-life
(arm_bucket_counts), then times ``read_snapshot`` both ways (--reads reads each, alternating) and
prints the median and 90th percentile in milliseconds and the rows each read returns.
"""
from __future__ import annotations

import secrets
import statistics
import sys
import time
from contextlib import ExitStack

import click

from benchmarks.decisions import BenchError, bench_settings, ensure_cassandra
from bandit.discount import MAX_BUCKETS, bucket_width_s, first_bucket_read

HALF_LIFE_S = 60


@click.command()
@click.option("--creatives", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--cities", type=click.IntRange(0, 100), default=8, show_default=True)
@click.option("--reads", type=click.IntRange(5, 10_000), default=200, show_default=True)
def main(creatives: int, cities: int, reads: int) -> None:
    """Time read_snapshot of a slot with and without a half-life (30 buckets)."""
    from app.service.runtime import read_snapshot
    from app.storage.db import Database
    from app.storage.schema import apply_schema

    log = lambda message: click.echo(f"snapshot-read: {message}", err=True)  # noqa: E731
    try:
        settings = bench_settings("slotbandit_bench")
    except BenchError as error:
        raise click.UsageError(str(error)) from None
    with ExitStack() as cleanup:
        try:
            ensure_cassandra(settings, log, cleanup)
        except BenchError as error:
            click.echo(f"snapshot-read: {error}", err=True)
            sys.exit(1)
        apply_schema(settings, log=lambda message: None)
        db = Database(settings)
        db.connect()
        cleanup.callback(db.shutdown)
        tenant = f"read-{secrets.token_hex(4)}"
        now = time.time()
        width = bucket_width_s(HALF_LIFE_S)
        first = first_bucket_read(now, width)
        segments = ["global"] + [f"city:c{i}" for i in range(cities)]
        log(f"writing {len(segments) * creatives} counter rows and {len(segments) * creatives * MAX_BUCKETS} bucket rows")
        pending = []
        for segment in segments:
            for c in range(creatives):
                pending.append(db.execute_async(
                    "UPDATE arm_counts SET impressions = impressions + 1000, clicks = clicks + 30 WHERE tenant = ? "
                    "AND platform = 'web' AND slot_id = 's' AND segment = ? AND creative_id = ?",
                    (tenant, segment, f"cr{c}")))
                for b in range(MAX_BUCKETS):
                    pending.append(db.execute_async(
                        "UPDATE arm_bucket_counts SET impressions = impressions + 30, clicks = clicks + 1 WHERE "
                        "tenant = ? AND platform = 'web' AND slot_id = 's' AND bucket = ? AND segment = ? "
                        "AND creative_id = ?", (tenant, first + b * width, segment, f"cr{c}")))
                if len(pending) > 256:
                    [f.result() for f in pending]
                    pending.clear()
        [f.result() for f in pending]
        timings = {"all-time counters": [], f"{MAX_BUCKETS} buckets (half_life_s {HALF_LIFE_S})": []}
        for _ in range(reads):
            for name, half_life in zip(timings, (None, HALF_LIFE_S)):
                started = time.perf_counter()
                read_snapshot(db, tenant, "web", "s", half_life_s=half_life, now_s=now)
                timings[name].append((time.perf_counter() - started) * 1000)
    click.echo(f"read_snapshot of {creatives} creatives x {len(segments)} segments, {reads} reads each (alternating)")
    for name, values in timings.items():
        values.sort()
        click.echo(f"  {name:<32} median {statistics.median(values):6.2f} ms   p90 {values[int(0.9 * len(values))]:6.2f} ms")


if __name__ == "__main__":
    main()
