"""``scripts/bench_events``: game events through ``POST /events`` and ``slotbandit ingest-events``.

1. **HTTP.** A day of synthetic raw game events (seed 000's shape, every value a string), in time
   order as a game sends them, posted in calls of 1,000 by ``--senders`` client threads to a real
   ``slotbandit serve`` (gunicorn, the project's server options, ``--workers``). Prints events/s.
2. **Plain insert.** The same rows (events, payments, games, feature cells) written by
   ``CustomerStore.write`` in unlogged batches per partition, from one process, for another tenant:
   the storage's own speed for these rows, without parsing, identities or HTTP. Prints the ratio.
3. **Concurrent resends.** Another set of events, every call sent by three threads at once:
   the accepted counts must add up to the number of events exactly, and the features of sampled
   customers must equal ``bandit.features`` over their events.
4. **File load** (``--file-events N``, 0 to skip): N events written to a temporary NDJSON file and
   loaded with ``slotbandit ingest-events``; prints the wall time, then loads it again (all duplicates).

Everything runs in a keyspace of its own on 127.0.0.1; the embedded Cassandra is started when none
answers on CASSANDRA_PORT and stopped afterwards.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Dict, List

import click
import requests

from app.settings import Settings
from benchmarks.decisions import BenchError, bench_settings, ensure_cassandra, _prepare_data
from benchmarks.game_events import game_history
from benchmarks.live_server import LiveServer, service_env

KEYSPACE = "slotbandit_bench_events"
BATCH = 1000


def timed_batches(seed: int, customers: int, prefix: str) -> List[List[dict]]:
    """One day of sessions of ``customers`` players, sorted by time, cut into calls of 1,000."""
    events = sorted(game_history(seed, customers, 1, prefix=prefix, days=1), key=lambda e: e["event_time"])
    return [events[i:i + BATCH] for i in range(0, len(events), BATCH)]


def post_all(url: str, key: str, bodies: List[bytes], senders: int, copies: int = 1) -> List[dict]:
    """Send every body ``copies`` times (the copies at once, from different threads); the answers."""
    jobs = [body for body in bodies for _ in range(copies)]
    answers: List[dict] = []
    lock, position = threading.Lock(), [0]

    def sender():
        session = requests.Session()
        headers = {"X-Api-Key": key, "Content-Type": "application/json"}
        while True:
            with lock:
                if position[0] >= len(jobs):
                    return
                body, position[0] = jobs[position[0]], position[0] + 1
            for _ in range(5):
                answer = session.post(f"{url}/events", data=body, headers=headers, timeout=60)
                if answer.status_code != 503:
                    break
                time.sleep(0.2)
            if answer.status_code != 200:
                raise BenchError(f"POST /events answered {answer.status_code}: {answer.text[:300]}")
            with lock:
                answers.append(answer.json())

    threads = [threading.Thread(target=sender) for _ in range(max(senders, copies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(answers) != len(jobs):
        raise BenchError("a sender failed; see the message above")
    return answers


def new_tenant(settings: Settings, name: str) -> str:
    from app.storage.db import Database
    from app.storage.tenants import TenantStore

    db = Database(settings)
    db.connect()
    try:
        return TenantStore(db).create(name)
    finally:
        db.shutdown()


def plain_insert(settings: Settings, tenant: str, batches: List[List[dict]]) -> float:
    """Seconds to write the rows of the events with CustomerStore.write (parsed beforehand)."""
    from app.service.event_input import parse_all
    from app.storage.customers import CustomerStore
    from app.storage.db import Database

    db = Database(settings)
    db.connect()
    try:
        store = CustomerStore(db)
        parsed = [[e for _, e in parse_all(tenant, batch, lambda d: True)[0]] for batch in batches]
        store.write(parsed[0][:10], datetime.now())  # statements prepared
        started = time.perf_counter()
        for events in parsed:
            store.write(events, datetime.now())
        return time.perf_counter() - started
    finally:
        db.shutdown()


def check_features(url: str, key: str, batches: List[List[dict]], sample: int = 40) -> int:
    """Compare the features of ``sample`` customers with bandit.features over their events."""
    from app.service.event_input import parse_all
    from bandit.features import FeatureEvent, features_at

    by_customer: Dict[str, list] = {}
    for batch in batches:
        for _, e in parse_all("bench", batch, lambda d: True)[0]:
            by_customer.setdefault(e.customer_id, []).append(FeatureEvent(
                e.event_time, e.event, e.session_id, e.txn_amount, e.won, e.country, e.signin_method))
    for customer in sorted(by_customer)[:sample]:
        got = requests.get(f"{url}/customer/{customer}/features", headers={"X-Api-Key": key}, timeout=10).json()
        if got["features"] != features_at(by_customer[customer]):
            raise BenchError(f"features of {customer} differ: {got['features']} != {features_at(by_customer[customer])}")
    return min(sample, len(by_customer))


def file_load(settings: Settings, tenant: str, events: int, progress) -> dict:
    """Generate ``events`` events into an NDJSON file and load it twice with slotbandit ingest-events."""
    from benchmarks.game_events import game_history

    path = Path(tempfile.mkstemp(prefix="slotbandit-bench-events-", suffix=".ndjson")[1])
    try:
        written = 0
        with open(path, "w") as out:
            for event in game_history(7, events // 20 + 1, 4, prefix="f"):  # about 30 events a player
                out.write(json.dumps(event) + "\n")
                written += 1
                if written == events:
                    break
        progress(f"wrote {written} events ({path.stat().st_size / 1e6:.0f} MB) to {path}")
        runs = []
        for attempt in ("first load", "second load (all duplicates)"):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "app.cli", "ingest-events", str(path), "--tenant", tenant],
                                  env=service_env(settings), capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                raise BenchError(f"ingest-events failed: {done.stderr[-500:]}")
            progress(f"{attempt}: {seconds:.1f} s; {done.stdout.strip().splitlines()[-1]}")
            runs.append({"seconds": round(seconds, 1), "summary": done.stdout.strip()})
        return {"events": written, "bytes": path.stat().st_size, "runs": runs}
    finally:
        path.unlink(missing_ok=True)


def run(customers: int, senders: int, workers: int, file_events: int, progress) -> dict:
    settings = bench_settings(KEYSPACE)
    results: dict = {}
    with ExitStack() as cleanup:
        results["cassandra"] = ensure_cassandra(settings, progress, cleanup)
        _prepare_data(settings, progress)
        run_id = secrets.token_hex(3)
        key = new_tenant(settings, f"bench-{run_id}")  # a tenant of its own: the keyspace may hold earlier runs
        server = LiveServer(settings, workers=workers).start()
        cleanup.callback(server.stop)
        batches = timed_batches(11, customers, f"h{run_id}-")
        bodies = [json.dumps(batch).encode() for batch in batches]
        events = sum(len(batch) for batch in batches)
        post_all(server.url, key, bodies[:2], senders)  # warm-up: connections, prepared statements
        progress(f"posting {events} events in {len(bodies)} calls of up to {BATCH} from {senders} threads")
        started = time.perf_counter()
        answers = post_all(server.url, key, bodies[2:], senders)
        http_s = time.perf_counter() - started
        sent = sum(len(batch) for batch in batches[2:])
        accepted = sum(a["accepted"] for a in answers)
        rejected = sum(len(a["rejected"]) for a in answers)
        if accepted != sent or rejected:
            raise BenchError(f"{accepted} accepted, {rejected} rejected of {sent}")
        results["http"] = {"events": sent, "seconds": round(http_s, 2), "events_per_s": round(sent / http_s)}
        progress(f"HTTP: {sent} events in {http_s:.2f} s = {sent / http_s:,.0f} events/s")
        plain_s = plain_insert(settings, f"bench-plain-{run_id}", batches[2:])
        results["plain_insert"] = {"seconds": round(plain_s, 2), "events_per_s": round(sent / plain_s)}
        results["ratio"] = round(plain_s / http_s, 2)
        progress(f"plain unlogged-batch insert of the same rows: {sent / plain_s:,.0f} events/s; "
                 f"HTTP / plain = {results['ratio']}")
        race = timed_batches(12, customers // 4, f"r{run_id}-")
        race_events = sum(len(batch) for batch in race)
        answers = post_all(server.url, key, [json.dumps(batch).encode() for batch in race], senders, copies=3)
        race_accepted = sum(a["accepted"] for a in answers)
        race_duplicates = sum(a["duplicates"] for a in answers)
        checked = check_features(server.url, key, race)
        results["resends"] = {"events": race_events, "sent": 3 * race_events, "accepted": race_accepted,
                              "duplicates": race_duplicates, "features_checked": checked}
        progress(f"concurrent resends: {race_events} events sent 3 times at once: {race_accepted} accepted, "
                 f"{race_duplicates} duplicates; features of {checked} customers exact")
        if race_accepted != race_events:
            raise BenchError(f"{race_accepted} accepted of {race_events} events sent three times")
        server.stop()  # the file load has the machine to itself
        if file_events:
            results["file"] = file_load(settings, f"bench-{run_id}", file_events, progress)
    return results


@click.command()
@click.option("--customers", default=5000, show_default=True, help="players in the HTTP part (about 10 events each)")
@click.option("--senders", default=4, show_default=True, help="client threads posting at once")
@click.option("--workers", default=2, show_default=True, help="gunicorn workers")
@click.option("--file-events", default=0, show_default=True, help="events in the file load (0: skip)")
def main(customers, senders, workers, file_events) -> None:
    """Measure POST /events (events/s, ratio to a plain insert, concurrent resends) and the file load."""
    try:
        results = run(customers, senders, workers, file_events, lambda m: print(f"==> {m}", file=sys.stderr))
    except BenchError as error:
        raise SystemExit(f"bench_events: {error}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
