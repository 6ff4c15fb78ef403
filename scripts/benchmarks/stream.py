"""``scripts/bench_stream``: the Kafka clickstream, end to end, and the decision endpoint in Kafka mode.

1. **Publish -> applied.** N synthetic events (impressions and clicks over a few slots) are
   published through the service's own publisher while ``--stream-workers`` ``slotbandit worker``
   processes run; the clock stops when Cassandra's stream totals hold exactly N events. Prints
   events/s from the first publish to the last applied, and the publish rate alone.
2. **Decision endpoint.** wrk against a bare Flask endpoint, the decision endpoint in direct mode
   and the decision endpoint in Kafka mode (same gunicorn settings, alternating rounds, median),
   printed as ratios to the bare endpoint. Kafka mode should be no lower than direct mode. The
   stream workers are stopped for this part: in production they run on other machines, and here
   they would compete with the service for the same cores.

Everything runs on 127.0.0.1, in a keyspace (``slotbandit_bench_stream``) and topic prefix of its
own. The embedded Cassandra and broker are started when none answers and stopped afterwards.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

import click

from benchmarks.decisions import (BARE_PATH, DECISION_PATH, HOST, BenchError, BenchOptions, bench_settings, _checked,
                       ensure_cassandra, _prepare_data, _service_env, _start_gunicorn, _warm_up, _wrk, median_result)
from app.settings import REPO_ROOT, Settings

KEYSPACE = "slotbandit_bench_stream"
SLOTS = 8


def run_stream_benchmark(events: int, stream_workers: int, options: BenchOptions, progress) -> dict:
    """Run both parts; return the results (also written as JSON beside the other benchmark's)."""
    settings = bench_settings(options.keyspace)
    with ExitStack() as cleanup:
        ensure_cassandra(settings, progress, cleanup)
        api_key = _prepare_data(settings, progress)
        settings = replace(settings, kafka_bootstrap_servers=_ensure_broker(settings, progress, cleanup),
                           kafka_topic_prefix=f"bench{secrets.token_hex(3)}.",
                           spool_dir=Path(tempfile.mkdtemp(prefix="slotbandit-bench-spool-")))
        stops = [_start_worker(settings, number, options.output.parent, cleanup) for number in range(stream_workers)]
        progress(f"{stream_workers} stream workers started; publishing {events} events")
        stream = _publish_to_applied(settings, events, progress)
        # In production the workers run elsewhere; here they would take the service's two cores.
        for stop in stops:
            stop()
        progress("measuring the decision endpoint: bare, direct mode, Kafka mode (stream workers stopped)")
        endpoints = _endpoint_rounds(settings, api_key, options, progress, cleanup)
    results = {
        "stream": stream,
        "endpoints": endpoints,
        "ratio_direct": endpoints["direct"]["requests_per_s"] / endpoints["bare"]["requests_per_s"],
        "ratio_kafka": endpoints["kafka"]["requests_per_s"] / endpoints["bare"]["requests_per_s"],
        "setup": {"stream_workers": stream_workers, "events": events, "slots": SLOTS,
                  "wrk": f"-t{options.threads} -c{options.connections} -d{options.duration_s}s",
                  "rounds": options.rounds, "nproc": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _ensure_broker(settings: Settings, progress, cleanup: ExitStack) -> str:
    """KAFKA_BOOTSTRAP_SERVERS if it answers, else the embedded broker (started here, stopped after)."""
    from app.devservers.kafka import EmbeddedKafka, EmbeddedKafkaError, broker_answers

    bootstrap = settings.kafka_bootstrap_servers or f"{HOST}:{settings.kafka_port}"
    if broker_answers(bootstrap):
        progress(f"using the Kafka broker at {bootstrap}")
        return bootstrap
    if settings.kafka_bootstrap_servers:
        raise BenchError(f"cannot reach Kafka at {bootstrap}")
    broker = EmbeddedKafka(port=settings.kafka_port, data_dir=settings.cassandra_data_dir.parent / "kafka",
                           cache_dir=settings.cache_dir)
    try:
        broker.start(watch_pid=os.getpid(), log=progress)
    except EmbeddedKafkaError as error:
        raise BenchError(str(error)) from None
    cleanup.callback(broker.stop, log=progress)
    return bootstrap


def _kafka_env(settings: Settings) -> dict:
    env = _service_env(settings)
    env.update({"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "SLOTBANDIT_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
                "SLOTBANDIT_SPOOL_DIR": str(settings.spool_dir), "SLOTBANDIT_LOG_LEVEL": "WARNING"})
    return env


def _start_worker(settings: Settings, number: int, log_dir: Path, cleanup: ExitStack):
    """A `slotbandit worker` process; returns a function that stops it (also called on cleanup)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"stream-worker-{number}.log", "wb") as log_stream:
        process = subprocess.Popen([str(Path(sys.executable).parent / "slotbandit"), "worker", "--group", "bench",
                                    "--metrics-port", "0"], cwd=REPO_ROOT, env=_kafka_env(settings),
                                   stdin=subprocess.DEVNULL, stdout=log_stream, stderr=subprocess.STDOUT)

    def stop() -> None:
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    cleanup.callback(stop)
    return stop


def synthetic_events(count: int) -> list:
    """``count`` events of the demo tenant over ``SLOTS`` slots; every tenth a click."""
    from app.storage import Event
    from app.stream.messages import StreamEvent

    run = secrets.token_hex(4)
    items = []
    for i in range(count):
        kind = "click" if i % 10 == 9 else "impression"
        segments = ("global", f"city:c{i % 5}")
        event = Event(tenant="demo", platform="web", slot_id=f"bench-{i % SLOTS}",
                      event_time=datetime.now(timezone.utc), event_id=f"{kind}:{run}-{i}", kind=kind,
                      decision_id=f"d-{run}-{i}", creative_id=f"banner-{i % 10:02d}", segment=segments[-1],
                      city=f"c{i % 5}", policy="thompson", propensity=0.1)
        items.append(StreamEvent(event, segments))
    return items


def _applied(db, prefix_slots: List[str]) -> int:
    from app.storage.stream_totals import StreamTotalsStore

    store = StreamTotalsStore(db)
    return sum(c.impressions + c.clicks for slot in prefix_slots
               for (segment, _), c in store.arm_totals("demo", "web", slot).items() if segment == "global")


def _publish_to_applied(settings: Settings, events: int, progress, timeout_s: float = 600) -> dict:
    from app.storage.db import Database
    from app.stream.publisher import KafkaPublisher

    db = Database(settings)
    slots = [f"bench-{i}" for i in range(SLOTS)]
    items = synthetic_events(events + SLOTS)
    warm_up, items = items[:SLOTS], items[SLOTS:]
    publisher = KafkaPublisher(settings, queue_size=events + 1)
    try:
        # One event per slot first: the clock starts once the workers have joined and applied them.
        baseline = _applied(db, slots)  # earlier runs in this keyspace
        for item in warm_up:
            publisher.publish(item)
        _wait_applied(db, slots, baseline + SLOTS, timeout_s, progress)
        baseline += SLOTS
        started = time.monotonic()
        for item in items:
            publisher.publish(item)
        if not publisher.flush(timeout_s):
            raise BenchError("the publisher did not get the events to the broker in time")
        published_s = time.monotonic() - started
        applied = _wait_applied(db, slots, baseline + events, timeout_s, progress) - baseline
        elapsed = time.monotonic() - started
    finally:
        publisher.close()
        db.shutdown()
    if applied != events:
        raise BenchError(f"{applied} events applied for {events} published: the counts are not exact")
    return {"events": events, "published_per_s": events / published_s, "end_to_end_s": elapsed,
            "end_to_end_per_s": events / elapsed, "applied_exactly": True}


def _wait_applied(db, slots: List[str], target: int, timeout_s: float, progress) -> int:
    """Poll the stream totals until they reach ``target``; returns the total then."""
    started = last_report = time.monotonic()
    while (applied := _applied(db, slots)) < target:
        now = time.monotonic()
        if now - started > timeout_s:
            raise BenchError(f"only {applied} of {target} events applied after {timeout_s:.0f} s")
        if now - last_report > 5:
            progress(f"applied {applied} of {target}")
            last_report = now
        time.sleep(0.1)
    return applied


def _endpoint_rounds(settings: Settings, api_key: str, options: BenchOptions, progress,
                     cleanup: ExitStack) -> Dict[str, dict]:
    log_dir = options.output.parent
    direct_env = {k: v for k, v in _service_env(settings).items() if not k.startswith("KAFKA_")}
    urls = {
        "bare": _start_gunicorn("benchmarks.decisions:bare_app", options.workers, direct_env, log_dir / "gunicorn-bare.log",
                                progress, cleanup) + BARE_PATH,
        "direct": _start_gunicorn("app.wsgi:app", options.workers, direct_env, log_dir / "gunicorn-direct.log",
                                  progress, cleanup) + DECISION_PATH,
        "kafka": _start_gunicorn("app.wsgi:app", options.workers, _kafka_env(settings),
                                 log_dir / "gunicorn-kafka.log", progress, cleanup) + DECISION_PATH,
    }
    for name, url in urls.items():
        _warm_up(url, {"X-Api-Key": api_key})
    rounds: Dict[str, list] = {name: [] for name in urls}
    for number in range(1, options.rounds + 1):
        for name, url in urls.items():
            time.sleep(2.0)
            progress(f"wrk {name}, round {number}/{options.rounds}: {options.duration_s} s")
            rounds[name].append(_checked(name, _wrk(url, api_key, options, options.duration_s)[0]))
    return {name: median_result(results) for name, results in rounds.items()}


def format_report(results: dict) -> str:
    stream, endpoints = results["stream"], results["endpoints"]
    lines = [
        f"stream: {stream['events']} events, publish -> applied in {stream['end_to_end_s']:.1f} s: "
        f"{stream['end_to_end_per_s']:.0f} events/s end to end (publishing alone {stream['published_per_s']:.0f}/s), "
        f"{results['setup']['stream_workers']} workers, counts exact",
        f"{'endpoint':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    for name in ("bare", "direct", "kafka"):
        e = endpoints[name]
        lines.append(f"{name:<10} {e['requests_per_s']:>9.0f} {e['latency_ms']['50']:>8.2f} {e['latency_ms']['99']:>8.2f}")
    lines.append(f"decision/bare: direct mode {results['ratio_direct']:.2f}, Kafka mode {results['ratio_kafka']:.2f}")
    return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--events", "-n", type=click.IntRange(100, 1_000_000), default=20_000, show_default=True,
              help="Events published for the end-to-end measurement.")
@click.option("--stream-workers", type=click.IntRange(1, 8), default=2, show_default=True)
@click.option("--duration", "-d", type=click.IntRange(1, 600), default=5, show_default=True, help="Seconds per wrk round.")
@click.option("--connections", "-c", type=click.IntRange(1, 1000), default=16, show_default=True)
@click.option("--threads", "-t", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--rounds", "-r", type=click.IntRange(1, 20), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="gunicorn workers (default: CPU count).")
def main(events, stream_workers, duration, connections, threads, rounds, workers) -> None:
    """Measure the Kafka clickstream end to end and the decision endpoint in Kafka mode (127.0.0.1 only)."""
    options = BenchOptions(duration_s=duration, connections=connections, threads=threads, rounds=rounds,
                           workers=workers, keyspace=KEYSPACE,
                           output=REPO_ROOT / "bench-results" / "bench_stream.json")
    try:
        results = run_stream_benchmark(events, stream_workers, options, lambda m: click.echo(m, err=True))
    except BenchError as error:
        click.echo(f"bench_stream: {error}", err=True)
        sys.exit(1)
    click.echo(format_report(results))


if __name__ == "__main__":
    main()
