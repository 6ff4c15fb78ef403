"""Faults a production day brings, on real processes: Cassandra stopped under load, a node of three
killed, and what the service counted afterwards.

Each scenario starts its own embedded Cassandra (one node, or a local cluster of three) on free
ports and its own ``slotbandit serve`` (gunicorn, two workers), drives steady traffic through the
HTTP API (decisions, each clicked once, a refused click retried until it is acknowledged), brings
the fault, waits until the service has settled and compares what it counted with what the clients
were told: lost and doubled impressions and clicks, failed decisions, seconds to recover.

``scripts/chaos`` prints these figures; ``tests/app/faults/`` asserts them.
"""
from __future__ import annotations

import heapq
import json
import os
import secrets
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set

import requests

from app.devservers.cluster import EmbeddedCluster, node_address
from app.devservers.processes import port_in_use
from app.settings import Settings
from app.storage import CountsStore, TenantStore
from app.storage.db import Database
from app.storage.schema import apply_schema
from benchmarks.live_server import LiveServer, free_port

Log = Callable[[str], None]
CREATIVES = ("a", "b", "c")
SLOT = "home"
RF3 = "{'class': 'SimpleStrategy', 'replication_factor': 3}"
# How long the counts may take to reach their final value after the load: the impression writer's
# settle delay for writes of unknown outcome (15 s) and a click's lease (20 s), with room.
SETTLE_DEADLINE_S = 60.0


@dataclass
class FaultReport:
    """What the clients were told and what the service counted."""

    scenario: str
    decisions_served: int = 0
    failed_decisions: int = 0
    clicks_acknowledged: int = 0
    clicks_unacknowledged: int = 0
    refused_click_attempts: int = 0
    impressions_counted: int = 0
    clicks_counted: int = 0
    recovery_s: Optional[float] = None  # fault repaired -> the last refused first attempt of a click
    settle_s: float = 0.0  # end of load -> counts final
    unacknowledged_why: List[str] = field(default_factory=list)  # the last answer to clicks never acknowledged

    @property
    def lost_impressions(self) -> int:
        return max(0, self.decisions_served - self.impressions_counted)

    @property
    def doubled_impressions(self) -> int:
        return max(0, self.impressions_counted - self.decisions_served)

    @property
    def lost_clicks(self) -> int:
        return max(0, self.clicks_acknowledged - self.clicks_counted)

    @property
    def doubled_clicks(self) -> int:
        return max(0, self.clicks_counted - self.clicks_acknowledged)

    def lines(self) -> List[str]:
        recovery = "-" if self.recovery_s is None else f"{self.recovery_s:.1f} s"
        return [
            f"{self.scenario}",
            f"  decisions served {self.decisions_served}, failed {self.failed_decisions}",
            f"  impressions counted {self.impressions_counted}: lost {self.lost_impressions}, "
            f"doubled {self.doubled_impressions}",
            f"  clicks acknowledged {self.clicks_acknowledged} (never acknowledged {self.clicks_unacknowledged}, "
            f"refused attempts {self.refused_click_attempts}), counted {self.clicks_counted}: "
            f"lost {self.lost_clicks}, doubled {self.doubled_clicks}",
            f"  click path back {recovery} after Cassandra answered; counts final {self.settle_s:.1f} s after the load",
        ] + [f"  never acknowledged, last answer: {why}" for why in self.unacknowledged_why]

    def as_dict(self) -> dict:
        return {**{k: v for k, v in self.__dict__.items()}, "lost_impressions": self.lost_impressions,
                "doubled_impressions": self.doubled_impressions, "lost_clicks": self.lost_clicks,
                "doubled_clicks": self.doubled_clicks}


@dataclass
class _Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: List[str] = field(default_factory=list)
    failed_decisions: int = 0
    acknowledged: Set[str] = field(default_factory=set)
    refused: int = 0
    refused_first_at: List[float] = field(default_factory=list)  # monotonic times of refused first attempts
    last_refusal: Dict[str, str] = field(default_factory=dict)  # decision id -> why its last attempt failed


class Traffic:
    """Steady decisions at ``rate`` a second, each clicked once; a refused click is sent again
    (after 0.25 s, doubling to 2 s) until it is acknowledged or ``click_deadline_s`` has passed."""

    def __init__(self, url: str, api_key: str, rate: float = 20.0, click_deadline_s: float = 90.0):
        self.url, self.headers, self.rate = url, {"X-Api-Key": api_key}, rate
        self.click_deadline_s = click_deadline_s
        self.tally = _Tally()
        self._stop_deciding = threading.Event()
        self._stop_clicking = threading.Event()
        self._clicks: List[tuple] = []  # heap of (due, decision_id, attempt, first_sent)
        self._clicks_lock = threading.Condition()
        self._threads: List[threading.Thread] = []

    def start(self) -> "Traffic":
        self._threads = [threading.Thread(target=self._decide, name=f"decide-{i}", daemon=True) for i in range(2)]
        self._threads += [threading.Thread(target=self._click, name=f"click-{i}", daemon=True) for i in range(4)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop deciding; wait until every click is acknowledged or past its deadline."""
        self._stop_deciding.set()
        deadline = time.monotonic() + self.click_deadline_s + 5
        while time.monotonic() < deadline:
            with self._clicks_lock:
                if not self._clicks:
                    break
            time.sleep(0.2)
        self._stop_clicking.set()
        with self._clicks_lock:
            self._clicks_lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=15)

    @property
    def unacknowledged(self) -> int:
        with self._clicks_lock:
            return len(self._clicks)

    def _decide(self) -> None:
        http = requests.Session()
        interval = 2 / self.rate  # two threads share the rate
        next_at = time.monotonic()
        while not self._stop_deciding.is_set():
            next_at += interval
            try:
                answer = http.get(f"{self.url}/slot/{SLOT}/creative", params={"platform": "web", "city": "pune"},
                                  headers=self.headers, timeout=10)
                ok = answer.status_code == 200
            except requests.RequestException:
                ok = False
            with self.tally.lock:
                if ok:
                    decision_id = answer.json()["decision_id"]
                    self.tally.served.append(decision_id)
                else:
                    self.tally.failed_decisions += 1
            if ok:
                with self._clicks_lock:
                    heapq.heappush(self._clicks, (time.monotonic(), decision_id, 0, time.monotonic()))
                    self._clicks_lock.notify()
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _click(self) -> None:
        http = requests.Session()
        while not self._stop_clicking.is_set():
            with self._clicks_lock:
                if not self._clicks or self._clicks[0][0] > time.monotonic():
                    wait = (self._clicks[0][0] - time.monotonic()) if self._clicks else 0.5
                    self._clicks_lock.wait(timeout=max(0.01, min(wait, 0.5)))
                    continue
                due, decision_id, attempt, first_sent = heapq.heappop(self._clicks)
            try:
                answer = http.post(f"{self.url}/click", json={"decision_id": decision_id}, headers=self.headers,
                                   timeout=15)
                acknowledged = answer.status_code in (200, 202)
                why = f"{answer.status_code} {answer.text[:120]}"
            except requests.RequestException as error:
                acknowledged, why = False, type(error).__name__
            if acknowledged:
                with self.tally.lock:
                    self.tally.acknowledged.add(decision_id)
                continue
            with self.tally.lock:
                self.tally.refused += 1
                self.tally.last_refusal[decision_id] = why
                if attempt == 0:
                    self.tally.refused_first_at.append(time.monotonic())
            if time.monotonic() - first_sent < self.click_deadline_s:
                with self._clicks_lock:
                    backoff = min(2.0, 0.25 * 2 ** attempt)
                    heapq.heappush(self._clicks, (time.monotonic() + backoff, decision_id, attempt + 1, first_sent))


class Deployment:
    """Its own Cassandra (``nodes`` embedded nodes), keyspace, tenant and slot, and ``slotbandit serve``."""

    def __init__(self, workdir: Path, nodes: int = 1, log: Log = print):
        self.workdir, self.nodes, self.log = Path(workdir), nodes, log
        self.port = _free_port_on_all(nodes)
        self.cluster = EmbeddedCluster(nodes=nodes, port=self.port, storage_port=_free_port_on_all(nodes),
                                       data_dir=self.workdir / "cassandra",
                                       cache_dir=Settings().cache_dir)
        hosts = tuple(node_address(i) for i in range(1, nodes + 1))
        self.settings = replace(
            Settings(), cassandra_hosts=hosts, cassandra_port=self.port, protocol_version=3,
            keyspace=f"faults_{secrets.token_hex(3)}", replication=RF3 if nodes >= 3 else Settings().replication,
            secret=secrets.token_urlsafe(24).encode(), write_interval_s=0.2, posterior_refresh_s=0.5)
        self.server: Optional[LiveServer] = None
        self.api_key = ""

    def start(self) -> "Deployment":
        """Start everything; on a failure, stop what was started and raise."""
        try:
            return self._start()
        except BaseException:
            self.stop(self.log)
            raise

    def _start(self) -> "Deployment":
        self.log(f"starting {self.nodes} Cassandra node(s) on port {self.port}")
        self.cluster.start(log=lambda message: None)
        apply_schema(self.settings, log=lambda message: None)
        db = Database(self.settings)
        try:
            self.api_key = TenantStore(db).create("faults")
            db.execute("INSERT INTO slots (tenant, platform, slot_id) VALUES (?, ?, ?)", ("faults", "web", SLOT))
            for creative_id in CREATIVES:
                db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, payload, active) "
                           "VALUES (?, ?, ?, ?, ?, ?)", ("faults", "web", SLOT, creative_id, "{}", True))
        finally:
            db.shutdown()
        self.server = LiveServer(self.settings, workers=2).start()
        self.log(f"service on {self.server.url}")
        return self

    def stop(self, log: Log = print) -> None:
        if self.server is not None:
            self.server.stop()
            problems = [line for line in self.server.log_tail(200_000).splitlines()
                        if '"level": "error"' in line or "Traceback" in line or "[ERROR]" in line]
            if problems:
                log(f"the service logged {len(problems)} error lines, e.g. {problems[-1][:300]}")
        self.cluster.stop(log=lambda message: None)

    def counts(self) -> tuple:
        """(impressions, clicks) the service counted slot-wide."""
        db = Database(self.settings)
        try:
            arms = CountsStore(db).read_slot("faults", "web", SLOT).get("global", {})
            return sum(c.impressions for c in arms.values()), sum(c.clicks for c in arms.values())
        finally:
            db.shutdown()

    def wait_for_counts(self, impressions: int, clicks: int, log: Log) -> tuple:
        """Counts once they reach the expected values or stop moving at the deadline."""
        deadline = time.monotonic() + SETTLE_DEADLINE_S
        seen = (-1, -1)
        while True:
            try:
                seen = self.counts()
            except Exception as error:  # noqa: BLE001 - a node restarting: ask again
                log(f"  reading counts failed: {str(error)[:120]}")
            if seen == (impressions, clicks) or time.monotonic() > deadline:
                return seen
            time.sleep(1.0)


def run_traffic(deployment: Deployment, fault: Callable[[], Optional[float]], scenario: str, before_s: float,
                after_s: float, rate: float, log: Log, click_deadline_s: float = 90.0) -> FaultReport:
    """Traffic for ``before_s``, the fault (returns the monotonic time storage answered again, if it
    went away), traffic for ``after_s``; then the report once counts are final."""
    traffic = Traffic(deployment.server.url, deployment.api_key, rate=rate, click_deadline_s=click_deadline_s).start()
    time.sleep(before_s)
    repaired_at = fault()
    time.sleep(after_s)
    log("load stopped; retrying unacknowledged clicks")
    traffic.stop()
    ended = time.monotonic()
    tally = traffic.tally
    report = FaultReport(scenario, decisions_served=len(tally.served), failed_decisions=tally.failed_decisions,
                         clicks_acknowledged=len(tally.acknowledged), clicks_unacknowledged=traffic.unacknowledged,
                         refused_click_attempts=tally.refused)
    report.unacknowledged_why = sorted({why for decision_id, why in tally.last_refusal.items()
                                        if decision_id not in tally.acknowledged})
    if repaired_at is not None:
        late = [t for t in tally.refused_first_at if t > repaired_at]
        report.recovery_s = max(late) - repaired_at if late else 0.0
    log("waiting for the counts to settle")
    report.impressions_counted, report.clicks_counted = deployment.wait_for_counts(
        report.decisions_served, report.clicks_acknowledged, log)
    report.settle_s = time.monotonic() - ended
    return report


def cassandra_outage(workdir: Path, outage_s: float = 10.0, before_s: float = 8.0, after_s: float = 12.0,
                     rate: float = 20.0, log: Log = print) -> FaultReport:
    """One node stopped (``slotbandit cassandra stop`` does the same: SIGTERM) for ``outage_s``, then started."""
    deployment = Deployment(workdir, nodes=1, log=log).start()
    try:
        def fault() -> float:
            log(f"stopping Cassandra for {outage_s:.0f} s")
            deployment.cluster.stop(log=lambda message: None)
            time.sleep(outage_s)
            deployment.cluster.start(log=lambda message: None)
            log("Cassandra answers again")
            return time.monotonic()

        return run_traffic(deployment, fault, f"Cassandra stopped for {outage_s:.0f} s under load (direct mode)",
                           before_s, after_s, rate, log)
    finally:
        deployment.stop(log)


def node_loss(workdir: Path, before_s: float = 8.0, after_s: float = 12.0, rate: float = 20.0,
              log: Log = print, click_deadline_s: float = 90.0) -> FaultReport:
    """One node of three killed with SIGKILL under load (replication factor 3, quorum reads and writes)."""
    deployment = Deployment(workdir, nodes=3, log=log).start()
    try:
        def fault() -> None:
            victim = deployment.cluster.members()[2]
            pid = victim.status()["pid"]
            log(f"killing node {victim.host} (pid {pid}) with SIGKILL")
            os.kill(pid, signal.SIGKILL)
            return None

        return run_traffic(deployment, fault, "one of three nodes killed (SIGKILL) under load", before_s, after_s,
                           rate, log, click_deadline_s)
    finally:
        deployment.stop(log)


def _free_port_on_all(nodes: int) -> int:
    """A port free on 127.0.0.1 .. 127.0.0.N."""
    for _ in range(50):
        port = free_port()
        if not any(port_in_use(port, node_address(i)) for i in range(1, nodes + 1)):
            return port
    raise RuntimeError("no port is free on every node address")


def main(argv: Optional[List[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="scripts/chaos",
        description="Run the faults of a production day against real processes and print what was lost, doubled "
                    "or refused: Cassandra stopped under load, one node of three killed.")
    parser.add_argument("--only", choices=("outage", "node-loss"), help="Run one scenario only.")
    parser.add_argument("--outage", type=float, default=10.0, help="Seconds Cassandra stays down (default 10).")
    parser.add_argument("--rate", type=float, default=20.0, help="Decisions a second, each clicked (default 20).")
    parser.add_argument("--json", dest="json_path", help="Also write the figures to this file.")
    args = parser.parse_args(argv)
    if not 1 <= args.outage <= 120 or not 1 <= args.rate <= 200:
        parser.error("--outage must be 1..120 s and --rate 1..200 a second")
    reports: Dict[str, FaultReport] = {}
    with tempfile.TemporaryDirectory(prefix="slotbandit-chaos-") as workdir:
        if args.only in (None, "outage"):
            reports["outage"] = cassandra_outage(Path(workdir) / "outage", outage_s=args.outage, rate=args.rate)
        if args.only in (None, "node-loss"):
            reports["node_loss"] = node_loss(Path(workdir) / "node-loss", rate=args.rate)
    print()
    for report in reports.values():
        print("\n".join(report.lines()))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({k: r.as_dict() for k, r in reports.items()}, indent=2))
    bad = [r for r in reports.values() if r.lost_impressions or r.doubled_impressions or r.lost_clicks
           or r.doubled_clicks]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
