"""Benchmark of the Spark jobs: generate a large history, seed priors from it, backfill an event log.

    python -m benchmarks.spark_jobs --history-rows 4000000 --events 1000000

Needs a running Cassandra with the schema applied (``slotbandit cassandra start``, ``schema
apply``). Writes a tenant ``bench-spark`` and its slot, prints the wall time and the peak memory
(driver process and, separately, its children: the JVM and Python workers) of each step.
"""
from __future__ import annotations

import os
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import numpy as np

TENANT = "bench-spark"
WRITE_CONCURRENCY = 32  # in-flight batches: more overloads the connection to the embedded server


def _descendants(pid: int) -> list:
    """Pids of every process below ``pid`` (the Spark JVM and its Python workers), from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _peak_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a live process in kB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _timed(label: str, action):
    """Run ``action``; print its wall time and the peak memory so far of the driver and of Spark's processes."""
    start = time.monotonic()
    value = action()
    elapsed = time.monotonic() - start
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spark = sum(_peak_kb(pid) for pid in _descendants(os.getpid())) / 1024
    click.echo(f"{label:<36} {elapsed:8.1f} s   peak RSS: driver python {driver:6.0f} MB, "
               f"Spark JVM + workers {spark:6.0f} MB")
    return value


def _write_events(db, world, count: int, seed: int) -> None:
    """``count`` impressions (4 % clicked) spread over 48 hours, in partition batches, counters left at 0."""
    from app.decision_ids import DecisionSigner, DecisionToken
    from app.storage import Event, EventStore

    store, signer = EventStore(db), DecisionSigner(b"bench-secret")
    rng = np.random.default_rng(seed)
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=48)
    pending = []
    for i in range(count):
        city, creative = world.cities[i % len(world.cities)], world.creatives[i % len(world.creatives)]
        moment = start + timedelta(seconds=int(rng.integers(0, 48 * 3600)))
        token = DecisionToken(TENANT, world.platform, world.slot_id, creative, ("global", f"city:{city}"),
                              int(moment.timestamp() * 1000), f"n{i}", city)
        decision_id = signer.sign(token)
        events = [Event(TENANT, world.platform, world.slot_id, moment, f"imp:n{i}", "impression", decision_id,
                        creative, "global", city)]
        if rng.random() < 0.04:
            events.append(Event(TENANT, world.platform, world.slot_id, moment + timedelta(seconds=5), f"click:n{i}",
                                "click", decision_id, creative, f"city:{city}", city))
        pending.extend(events)
        if len(pending) >= 20_000:
            _flush(db, store, pending)
    _flush(db, store, pending)


def _flush(db, store, pending) -> None:
    """Write the pending events as partition batches, at most WRITE_CONCURRENCY in flight."""
    from cassandra.concurrent import execute_concurrent

    batches = ((batch, None) for batch, _ in store.batches(pending))
    execute_concurrent(db.session, batches, concurrency=WRITE_CONCURRENCY, raise_on_first_error=True)
    pending.clear()


@click.command()
@click.option("--history-rows", type=click.IntRange(1), default=4_000_000, show_default=True)
@click.option("--events", type=click.IntRange(0), default=1_000_000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def main(history_rows: int, events: int, seed: int) -> None:
    """Time generate -> seed-priors -> backfill on this machine."""
    from app.cli.common import connect as _connect, load_settings as _settings
    from app.jobs.backfill import run_backfill
    from app.jobs.log_frames import list_slots
    from benchmarks.generate_history import impression_chunks, make_world, write_history
    from app.jobs.seed import SeedRequest, check_seed, run_seed
    from app.jobs.spark import spark_session

    settings = _settings()
    db = _connect(settings)
    world = make_world(seed, n_cities=10, n_creatives=8, slot_id="bench-slot")
    db.execute("INSERT INTO slots (tenant, platform, slot_id) VALUES (?, ?, ?)",
               (TENANT, world.platform, world.slot_id))
    for creative in world.creatives:
        db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, payload, active) "
                   "VALUES (?, ?, ?, ?, ?, true)", (TENANT, world.platform, world.slot_id, creative,
                                                    world.payload(creative)))
    work = Path(tempfile.mkdtemp(prefix="slotbandit-bench-"))
    path = work / "history.parquet"
    _timed(f"generate {history_rows:,} rows", lambda: write_history(path, impression_chunks(world, history_rows, seed),
                                                                   "parquet"))
    spark = _timed("start Spark", spark_session)
    request = SeedRequest(str(path), TENANT, world.platform, world.slot_id, min_impressions=1000)
    result = _timed("seed-priors", lambda: run_seed(spark, db, request, check_seed(db, request)))
    click.echo(f"  {len(result.priors.priors)} priors written from {sum(result.counts.rows_by_reason.values()):,} rows")
    if events:
        _timed(f"write {events:,} events to Cassandra", lambda: _write_events(db, world, events, seed))
        since = datetime.now(timezone.utc) - timedelta(hours=49)
        until = datetime.now(timezone.utc) + timedelta(hours=1)
        backfilled = _timed("backfill", lambda: run_backfill(spark, db, settings, since, until,
                                                                   list_slots(db, TENANT)))
        click.echo(f"  {backfilled.events:,} events read, {len(backfilled.changes)} counter rows repaired")
    db.shutdown()


if __name__ == "__main__":
    main()
