"""Rate limits across the workers of a real ``slotbandit serve`` (gunicorn, 3 workers): one
tenant's burst or flood is refused with 429 while another tenant's decisions go on as before."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from benchmarks.live_server import LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LIMIT_RPS = 20.0
PATH = "/slot/home/creative?platform=web"
STATS_PATH = "/slot/home/stats?platform=web"
POLLER_RPS = 5.0  # a dashboard's stats calls are heavy: 20 of them a second take a good part of a core here


@pytest.fixture(scope="module")
def tenants_and_server(settings, runtime):
    from app.storage.tenants import TenantStore

    handles = {}
    for prefix in ("flood", "calm", "poller"):
        name = f"{prefix}-{time.monotonic_ns() % 10**9}"
        handles[prefix] = (name, runtime.tenants.create(name))
        runtime.db.execute("INSERT INTO slots (tenant, platform, slot_id) VALUES (?, 'web', 'home')", (name,))
        for creative in ("a", "b", "c"):
            runtime.db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, image_url, payload, "
                               "active) VALUES (?, 'web', 'home', ?, 'https://img.example/x.png', '{}', true)",
                               (name, creative))
    TenantStore(runtime.db).set_limit(handles["flood"][0], LIMIT_RPS)  # bursts of 20 (one second)
    TenantStore(runtime.db).set_limit(handles["poller"][0], POLLER_RPS)
    # The service's own refresh and write intervals (the suite's short ones add background work).
    server = LiveServer(settings, workers=3, extra_env={
        "SLOTBANDIT_POSTERIOR_REFRESH_S": "1.0", "SLOTBANDIT_CONFIG_REFRESH_S": "2.0",
        "SLOTBANDIT_WRITE_INTERVAL_S": "0.5"}).start()
    yield {prefix: {"X-Api-Key": key} for prefix, (name, key) in handles.items()}, server
    server.stop()


def test_200_at_once_over_a_limit_of_20_get_429_and_another_tenant_gets_none(tenants_and_server):
    headers, server = tenants_and_server
    barrier = threading.Barrier(45)

    def send(who, count):
        barrier.wait()
        with requests.Session() as http:
            return [(who, answer.status_code, answer.headers.get("Retry-After"), answer.json())
                    for answer in (http.get(server.url + PATH, headers=headers[who], timeout=30)
                                   for _ in range(count))]

    started = time.monotonic()
    with ThreadPoolExecutor(45) as pool:
        jobs = [pool.submit(send, "flood", 5) for _ in range(40)] + [pool.submit(send, "calm", 10) for _ in range(5)]
        answers = [answer for job in jobs for answer in job.result()]
    elapsed = time.monotonic() - started
    flood = [a for a in answers if a[0] == "flood"]
    calm = [a for a in answers if a[0] == "calm"]
    assert len(flood) == 200 and len(calm) == 50
    assert {status for _, status, _, _ in calm} == {200}
    refused = [a for a in flood if a[1] == 429]
    served = [a for a in flood if a[1] == 200]
    assert len(refused) + len(served) == 200
    # One bucket for all three workers: at most the burst plus what refills while the 200 are sent.
    print(f"200 at once over a limit of {LIMIT_RPS:g}/s: {len(served)} served, {len(refused)} refused in "
          f"{elapsed:.2f} s; the other tenant's {len(calm)} all 200")
    assert 0 < len(served) <= LIMIT_RPS + LIMIT_RPS * elapsed + 1, (len(served), elapsed)
    assert all(int(retry) >= 1 and body["error"]["code"] == "rate_limited" for _, _, retry, body in refused)


def latencies_ms(url: str, headers: dict, count: int):
    spent = []
    with requests.Session() as http:
        for _ in range(count):
            started = time.perf_counter()
            answer = http.get(url, headers=headers, timeout=30)
            spent.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            time.sleep(0.005)
    return spent


class Flood:
    """``rate`` requests a second from ``threads`` threads, each sent whole on a new connection (as
    a looping client does; a paced wrk would hold connections idle between sends, and an idle
    connection holds a sync worker). Counts the answers by status."""

    def __init__(self, port: int, api_key: str, rate: float, path: str, threads: int = 8):
        self.request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {api_key}\r\n"
                        f"Connection: close\r\n\r\n").encode()
        self.port, self.interval_s, self.threads = port, threads / rate, threads
        self.statuses: dict = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running = []

    def __enter__(self) -> "Flood":
        for number in range(self.threads):
            thread = threading.Thread(target=self._send, args=(number,), daemon=True)
            thread.start()
            self._running.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(timeout=30)

    def _send(self, number: int) -> None:
        next_at = time.monotonic() + self.interval_s * number / self.threads
        while not self._stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + self.interval_s, time.monotonic() - self.interval_s)
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as connection:
                connection.sendall(self.request)
                answer = b""
                while chunk := connection.recv(65536):
                    answer += chunk
            status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1


def test_a_flood_far_above_its_limit_leaves_another_tenants_p99_within_twice_its_quiet_p99(tenants_and_server):
    """A tenant limited to 5 requests a second polls its stats (reads and a Monte Carlo per call) 50
    times more often than that. With the same flood and no limit, the calm tenant's p99 went from 7.9
    to 163 ms here (the service managed 99 of the 250 calls a second): this test failed."""
    headers, server = tenants_and_server
    decisions = server.url + PATH
    quiet, flooded, floods = [], [], []
    for _ in range(3):  # quiet and flooded phases alternate: background noise lands on both
        quiet += latencies_ms(decisions, headers["calm"], 400)
        with Flood(server.port, headers["poller"]["X-Api-Key"], 50 * POLLER_RPS, STATS_PATH) as flood:
            started = time.monotonic()
            time.sleep(0.5)  # the flood is on
            flooded += latencies_ms(decisions, headers["calm"], 400)
        floods.append((flood.statuses, time.monotonic() - started))
    sent = sum(sum(statuses.values()) for statuses, _ in floods)
    refused = sum(statuses.get(429, 0) for statuses, _ in floods)
    rate = sent / sum(seconds for _, seconds in floods)
    assert rate > 25 * POLLER_RPS and refused > 0.9 * sent and set().union(*(s for s, _ in floods)) <= {200, 429}
    quiet_p99, flooded_p99 = np.percentile(quiet, 99), np.percentile(flooded, 99)
    print(f"calm tenant's decisions, p99: quiet {quiet_p99:.2f} ms, during a flood of {rate:.0f} req/s "
          f"({refused} of {sent} refused) {flooded_p99:.2f} ms")
    assert flooded_p99 <= 2 * quiet_p99, (quiet_p99, flooded_p99)
