"""``scripts/bench``: throughput of the decision endpoint as a ratio to a bare Flask endpoint.

Absolute numbers on a small shared machine are noisy, so one run measures both under the same
gunicorn settings (``app.server.gunicorn_options``), alternating bare and decision rounds so that
background noise (Cassandra compactions, other processes) hits both, and reports the median.
Then the decision endpoint is measured again at half of its measured maximum, with a paced load.

Everything runs against a keyspace of its own (``slotbandit_bench`` by default), so a benchmark
neither rotates the developer's demo key nor adds its impressions to the developer's counts.

``bare_app`` is the bare endpoint; ``python -m app.bench gunicorn APP_URI PORT [WORKERS]`` serves
either app through ``app.server.run``. Nothing else runs at import.
"""
from __future__ import annotations

import ctypes
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional

import click
from flask import Flask, jsonify

from app.settings import REPO_ROOT, Settings, SettingsError

bare_app = Flask(__name__)


@bare_app.get("/bare")
def bare():
    return jsonify({"ok": True, "n": 1})


DECISION_PATH = "/slot/home-banner/creative?platform=web&city=pune"  # a slot of cql/examples/demo.cql
BARE_PATH = "/bare"
HOST = "127.0.0.1"
RATIO_TARGET = 0.6
HALF_LOAD_P99_TARGET_MS = 15.0
WARMUP_REQUESTS = 300
SETTLE_S = 2.0  # pause between phases: queued impressions get written, sockets in TIME_WAIT go
PERCENTILES = ("50", "75", "90", "99")
Progress = Callable[[str], None]


class BenchError(Exception):
    """Something did not start or answered wrongly; ``str(error)`` is one line for the operator."""


# --- wrk output --------------------------------------------------------------------------------

TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
METRIC_SUFFIXES = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_NUMBER_UNIT = re.compile(r"^(\d+(?:\.\d+)?)([a-zA-Z]*)$")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_s: float
    latency_ms: Dict[str, float]  # '50', '75', '90', '99' (wrk --latency) and 'avg', 'max'
    thread_requests_per_s: float  # wrk's per-thread average (printed with a k/M suffix)
    non_2xx: int = 0  # wrk counts statuses above 399 here
    socket_errors: Dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


def parse_time_ms(text: str) -> float:
    """A wrk duration ('812.00us', '1.23ms', '1.02s', '2.00m') in milliseconds."""
    match = _NUMBER_UNIT.match(text.strip())
    if not match or match.group(2) not in TIME_UNITS_MS:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * TIME_UNITS_MS[match.group(2)]


def parse_metric(text: str) -> float:
    """A wrk count ('812.00', '2.01k', '1.10M') as a number."""
    match = _NUMBER_UNIT.match(text.strip())
    if not match or match.group(2) not in METRIC_SUFFIXES:
        raise ValueError(f"not a wrk count: {text!r}")
    return float(match.group(1)) * METRIC_SUFFIXES[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The numbers of one ``wrk --latency`` report (wrk 4.x text output)."""
    def find(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no line matching {pattern!r}: {output.strip()[-300:]!r}")
        return match

    latency = find(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)")
    latency_ms = {"avg": parse_time_ms(latency.group(1)), "max": parse_time_ms(latency.group(3))}
    for percentile in PERCENTILES:
        latency_ms[percentile] = parse_time_ms(find(rf"^\s*{percentile}%\s+(\S+)\s*$").group(1))
    totals = find(r"^\s*(\d+) requests in (\S+),")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(totals.group(1)),
        seconds=parse_time_ms(totals.group(2)) / 1000,
        requests_per_s=float(find(r"^Requests/sec:\s+(\S+)").group(1)),
        latency_ms=latency_ms,
        thread_requests_per_s=parse_metric(find(r"^\s*Req/Sec\s+(\S+)").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups())))
        if socket_errors else {},
    )


# --- paced load ----------------------------------------------------------------------------------

# wrk has no rate limit; its Lua ``delay()`` hook makes a connection wait before each request. wrk
# starts a request's latency clock when it writes the request, after the delay (src/wrk.c:
# socket_writeable sets c->start once the delay timer has fired), so the latency reported for a
# paced run is the service's answer time at that load, without the pacing wait. (wrk 4 then adds
# synthetic samples only for latencies above twice a connection's mean cycle, here about 2x the delay.)
# The delay's mean is set per run; each wait is spread over 0.5x..1.5x of it so connections do not
# march in step, and rounded up or down at random because wrk truncates the delay to whole ms.
PACING_LUA = """\
local mean_ms = {mean_ms:.4f}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + thread_number)
end
function delay()
  local ms = mean_ms * (0.5 + math.random())
  local whole = math.floor(ms)
  if math.random() < ms - whole then whole = whole + 1 end
  return whole
end
"""


def pacing_delay_ms(target_per_s: float, connections: int, overhead_ms: float = 0.0) -> float:
    """Mean wait per request that gives ``target_per_s`` over ``connections`` closed-loop connections.

    Each connection completes one request every ``delay + overhead`` ms (overhead: answer time plus
    wrk's own), so ``connections * 1000 / (delay + overhead) = target``.
    """
    if target_per_s <= 0 or connections <= 0:
        raise ValueError(f"target_per_s and connections must be positive, but {target_per_s} and "
                         f"{connections} are given")
    return max(0.0, connections * 1000.0 / target_per_s - overhead_ms)


def cycle_overhead_ms(achieved_per_s: float, connections: int, delay_ms: float) -> float:
    """Per-request time beyond the delay, measured from a paced run (the inverse of the above)."""
    return max(0.0, connections * 1000.0 / achieved_per_s - delay_ms)


# --- the benchmark -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchOptions:
    duration_s: int = 10
    connections: int = 16
    threads: int = 2
    rounds: int = 2
    workers: Optional[int] = None  # None: gunicorn_options' default (CPU count)
    keyspace: str = "slotbandit_bench"
    output: Path = REPO_ROOT / "bench-results" / "bench.json"

    def __post_init__(self) -> None:
        for name, low in (("duration_s", 1), ("connections", 1), ("threads", 1), ("rounds", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer of at least {low}, but {value!r} is given")
        if self.connections < self.threads:
            raise ValueError(f"connections must be at least threads ({self.threads}), but {self.connections} is given")
        if self.workers is not None and not 1 <= self.workers <= 64:
            raise ValueError(f"workers must be an integer between 1 and 64, but {self.workers!r} is given")


def run_benchmark(options: BenchOptions, progress: Progress) -> dict:
    """Start what is missing, measure, stop what was started; return the results (also written as JSON)."""
    from app.server import gunicorn_options

    settings = _bench_settings(options.keyspace)
    load_before = os.getloadavg()
    with ExitStack() as cleanup:
        cassandra = _ensure_cassandra(settings, progress, cleanup)
        api_key = _prepare_data(settings, progress)
        log_dir = options.output.parent
        log_dir.mkdir(parents=True, exist_ok=True)
        env = _service_env(settings)
        servers = {}
        for name, app_uri in (("bare", "app.bench:bare_app"), ("decision", "app.wsgi:app")):
            servers[name] = _start_gunicorn(app_uri, options.workers, env, log_dir / f"gunicorn-{name}.log",
                                            progress, cleanup)
        urls = {"bare": servers["bare"] + BARE_PATH, "decision": servers["decision"] + DECISION_PATH}
        headers = {"X-Api-Key": api_key}
        for name, url in urls.items():
            progress(f"warming up {name} ({WARMUP_REQUESTS} requests)")
            _warm_up(url, headers)
        load_at_start = os.getloadavg()
        rounds: Dict[str, List[WrkResult]] = {"bare": [], "decision": []}
        for number in range(1, options.rounds + 1):
            for name in ("bare", "decision"):
                time.sleep(SETTLE_S)
                progress(f"wrk {name}, round {number}/{options.rounds}: {options.duration_s} s at "
                         f"{options.connections} connections")
                rounds[name].append(_checked(name, _wrk(urls[name], api_key, options, options.duration_s)))
        summary = {name: _median_result(results) for name, results in rounds.items()}
        half = _half_load(urls["decision"], api_key, options, summary["decision"]["requests_per_s"] / 2, progress)
        writer = _impression_counts(servers["decision"])
    workers = gunicorn_options(HOST, 0, options.workers)["workers"]
    results = {
        "ratio": summary["decision"]["requests_per_s"] / summary["bare"]["requests_per_s"],
        "ratio_target": RATIO_TARGET,
        "endpoints": summary,
        "half_load": half,
        "half_load_p99_target_ms": HALF_LOAD_P99_TARGET_MS,
        "rounds": {name: [asdict(r) for r in results] for name, results in rounds.items()},
        "impressions": writer,
        "setup": {"gunicorn_workers": workers, "worker_class": gunicorn_options(HOST, 0)["worker_class"],
                  "wrk": f"-t{options.threads} -c{options.connections} -d{options.duration_s}s --latency",
                  "rounds": options.rounds, "decision_path": DECISION_PATH, "keyspace": settings.keyspace,
                  "cassandra": cassandra},
        "machine": {"nproc": os.cpu_count(), "load_average_before": list(load_before),
                    "load_average_before_wrk": list(load_at_start), "python": platform.python_version(),
                    "wrk": _wrk_version(), "commit": _git_commit(),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    }
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _bench_settings(keyspace: str) -> Settings:
    try:
        settings = Settings.from_env({**os.environ, "CASSANDRA_KEYSPACE": keyspace})
    except SettingsError as error:
        raise BenchError(str(error)) from None
    return replace(settings, secret=secrets.token_urlsafe(32).encode())


def _ensure_cassandra(settings: Settings, progress: Progress, cleanup: ExitStack) -> str:
    """Reuse a running Cassandra; start the embedded one only when none answers, and stop only that."""
    if not settings.embedded:
        return f"external ({','.join(settings.cassandra_hosts)})"
    from app.embedded_cassandra import EmbeddedCassandra, EmbeddedCassandraError

    server = EmbeddedCassandra(port=settings.cassandra_port, storage_port=settings.cassandra_storage_port,
                               data_dir=settings.cassandra_data_dir, cache_dir=settings.cache_dir)
    if server.status()["running"]:
        progress(f"using the running embedded Cassandra on {HOST}:{settings.cassandra_port}")
        return "embedded, already running (left running)"
    if not _port_is_open(settings.cassandra_port):
        progress("starting the embedded Cassandra")
        try:
            # watch_pid: even if this process is killed outright, the server does not outlive it.
            server.start(watch_pid=os.getpid(), log=progress)
        except EmbeddedCassandraError as error:
            raise BenchError(str(error)) from None
        cleanup.callback(server.stop, log=progress)
        return "embedded, started by the benchmark (stopped after it)"
    progress(f"using the Cassandra already listening on {HOST}:{settings.cassandra_port} (not started here)")
    return "already listening on the port, not ours (left running)"


def _prepare_data(settings: Settings, progress: Progress) -> str:
    """Schema and demo tenant in the benchmark's keyspace; returns the demo API key."""
    from cassandra.cluster import NoHostAvailable

    from app.db import Database, one_line
    from app.demo import load_demo
    from app.schema import apply_schema

    progress(f"applying the schema to keyspace {settings.keyspace} and loading the demo tenant")
    db = Database(settings)
    try:
        apply_schema(settings, log=lambda message: None)
        db.connect()
        return load_demo(db)
    except NoHostAvailable:
        raise BenchError(f"cannot reach Cassandra at {','.join(settings.contact_points)}:"
                         f"{settings.cassandra_port}") from None
    except Exception as error:
        raise BenchError(f"preparing Cassandra failed: {one_line(error)}") from None
    finally:
        db.shutdown()


def _service_env(settings: Settings) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"CASSANDRA_KEYSPACE": settings.keyspace, "SLOTBANDIT_SECRET": settings.secret.decode()})
    return env


def _start_gunicorn(app_uri: str, workers: Optional[int], env: dict, log_file: Path, progress: Progress,
                    cleanup: ExitStack) -> str:
    """``app_uri`` under gunicorn on a free port, in its own process group; returns its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "app.bench", "gunicorn", app_uri, str(port)]
    if workers is not None:
        command.append(str(workers))
    progress(f"starting gunicorn for {app_uri} on port {port} (log: {log_file})")
    with open(log_file, "wb") as log_stream:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_stream,
                                   stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
    cleanup.callback(_stop_process_group, process)
    url = f"http://{HOST}:{port}"
    ready_path = "/readyz" if app_uri == "app.wsgi:app" else BARE_PATH
    _wait_ready(process, url + ready_path, log_file)
    return url


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the benchmark dies without cleaning up (Linux only)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _wait_ready(process: subprocess.Popen, url: str, log_file: Path, timeout_s: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with status {process.returncode}: {_tail(log_file)}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise BenchError(f"{url} did not answer 200 within {timeout_s:.0f} s: {_tail(log_file)}")


def _stop_process_group(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGTERM to the gunicorn master (workers drain their write queues), then SIGKILL the group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # stray workers, if any
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _warm_up(url: str, headers: dict) -> None:
    """Fill every worker's caches; every answer must be a 200 or the numbers would measure errors."""
    import requests

    def get(_):
        response = requests.get(url, headers=headers, timeout=10)
        return response.status_code, response.text[:200]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(get, range(WARMUP_REQUESTS)))
    failed = [answer for answer in answers if answer[0] != 200]
    if failed:
        raise BenchError(f"{len(failed)} of {WARMUP_REQUESTS} warm-up requests to {url} failed, e.g. "
                         f"{failed[0][0]} {failed[0][1]!r}")


def _wrk(url: str, api_key: str, options: BenchOptions, duration_s: int, script: Optional[Path] = None) -> WrkResult:
    command = ["wrk", f"-t{options.threads}", f"-c{options.connections}", f"-d{duration_s}s", "--latency",
               "-H", f"X-Api-Key: {api_key}"]
    if script is not None:
        command += ["-s", str(script)]
    try:
        done = subprocess.run(command + [url], capture_output=True, text=True, timeout=duration_s + 60)
    except FileNotFoundError:
        raise BenchError("wrk not found: install it (apt-get install wrk)") from None
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}")
    return parse_wrk(done.stdout)


def _checked(name: str, result: WrkResult) -> WrkResult:
    """Errors under load would make a fast endpoint out of a failing one: more than 0.1 % stops the run."""
    if result.errors > max(1, result.requests // 1000):
        raise BenchError(f"{name}: {result.non_2xx} error answers and socket errors {result.socket_errors} "
                         f"in {result.requests} requests: the numbers would not be valid (see bench-results/*.log)")
    return result


def _median_result(results: List[WrkResult]) -> dict:
    return {"requests_per_s": statistics.median(r.requests_per_s for r in results),
            "latency_ms": {key: statistics.median(r.latency_ms[key] for r in results)
                           for key in ("avg", *PERCENTILES, "max")}}


def _half_load(url: str, api_key: str, options: BenchOptions, target_per_s: float, progress: Progress) -> dict:
    """A short run calibrates the pacing (answer time adds to each connection's cycle), then the measured run."""
    with tempfile.TemporaryDirectory(prefix="slotbandit-bench-") as tmp:
        script = Path(tmp) / "pacing.lua"
        delay_ms = pacing_delay_ms(target_per_s, options.connections)
        calibration_s = max(2, options.duration_s // 3)
        script.write_text(PACING_LUA.format(mean_ms=delay_ms))
        time.sleep(SETTLE_S)
        progress(f"wrk decision at half load ({target_per_s:.0f} req/s), calibrating: {calibration_s} s")
        calibration = _checked("half-load calibration", _wrk(url, api_key, options, calibration_s, script))
        overhead_ms = cycle_overhead_ms(calibration.requests_per_s, options.connections, delay_ms)
        delay_ms = pacing_delay_ms(target_per_s, options.connections, overhead_ms)
        script.write_text(PACING_LUA.format(mean_ms=delay_ms))
        time.sleep(SETTLE_S)
        progress(f"wrk decision at half load ({target_per_s:.0f} req/s, mean delay {delay_ms:.2f} ms per "
                 f"connection): {options.duration_s} s")
        result = _checked("half load", _wrk(url, api_key, options, options.duration_s, script))
    return {"target_requests_per_s": target_per_s, "requests_per_s": result.requests_per_s,
            "delay_ms": delay_ms, "latency_ms": {key: result.latency_ms[key] for key in ("avg", *PERCENTILES, "max")}}


def _impression_counts(base_url: str) -> dict:
    """Impressions written and dropped by the decision workers (a fast endpoint must not shed its writes)."""
    import requests

    text = requests.get(base_url + "/metrics", timeout=10).text
    def total(name: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))
    return {"written": total("slotbandit_impressions_written_total"),
            "dropped": total("slotbandit_impressions_dropped_total")}


def format_report(results: dict) -> str:
    """The table printed at the end of a run."""
    lines = [f"{'endpoint':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"]
    for name, label in (("bare", "bare Flask JSON"), ("decision", "decision")):
        row = results["endpoints"][name]
        lines.append(f"{label:<22}{row['requests_per_s']:>10.0f}{row['latency_ms']['50']:>10.2f}"
                     f"{row['latency_ms']['99']:>10.2f}")
    half = results["half_load"]
    lines.append(f"{'decision at half load':<22}{half['requests_per_s']:>10.0f}{half['latency_ms']['50']:>10.2f}"
                 f"{half['latency_ms']['99']:>10.2f}")
    ratio, p99 = results["ratio"], half["latency_ms"]["99"]
    lines += [
        "",
        f"ratio decision/bare: {ratio:.2f}  (target >= {RATIO_TARGET}: {'PASS' if ratio >= RATIO_TARGET else 'BELOW'})",
        f"half load p99: {p99:.2f} ms at {half['requests_per_s']:.0f} of {half['target_requests_per_s']:.0f} req/s "
        f"(target <= {HALF_LOAD_P99_TARGET_MS:.0f} ms: {'PASS' if p99 <= HALF_LOAD_P99_TARGET_MS else 'ABOVE'})",
        f"impressions written {results['impressions']['written']:.0f}, dropped {results['impressions']['dropped']:.0f}",
    ]
    setup, machine = results["setup"], results["machine"]
    lines.append(f"setup: gunicorn {setup['gunicorn_workers']} {setup['worker_class']} workers; wrk {setup['wrk']}; "
                 f"median of {setup['rounds']} alternating rounds; Cassandra {setup['cassandra']}")
    lines.append(f"machine: nproc {machine['nproc']}, load average before "
                 + " ".join(f"{x:.2f}" for x in machine["load_average_before"])
                 + " (before wrk " + " ".join(f"{x:.2f}" for x in machine["load_average_before_wrk"]) + ")")
    return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _port_is_open(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


def _wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.split("[")[0].replace("wrk", "").strip() or "unknown"


def _git_commit() -> Optional[str]:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


# --- command line ------------------------------------------------------------------------------------

@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--duration", "-d", type=click.IntRange(1, 600), default=10, show_default=True,
              help="Seconds of each wrk run.")
@click.option("--connections", "-c", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="wrk connections (open at once).")
@click.option("--threads", "-t", type=click.IntRange(1, 64), default=2, show_default=True, help="wrk threads.")
@click.option("--rounds", "-r", type=click.IntRange(1, 20), default=2, show_default=True,
              help="Alternating rounds per endpoint (bare, decision, bare, ...); the median is reported.")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=None,
              help="gunicorn sync workers for both apps (default: gunicorn_options' default, the CPU count).")
@click.option("--keyspace", default="slotbandit_bench", show_default=True, help="Keyspace the benchmark uses.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=REPO_ROOT / "bench-results" / "bench.json", help="JSON results [bench-results/bench.json].")
@click.pass_context
def main(ctx, duration, connections, threads, rounds, workers, keyspace, output) -> None:
    """Throughput of GET /slot/<id>/creative as a ratio to a bare Flask JSON endpoint.

    Starts the embedded Cassandra unless one runs (or CASSANDRA_HOSTS is set), loads the demo
    tenant into its own keyspace, serves both apps under the same gunicorn settings, measures
    them with wrk in alternating rounds, then the decision endpoint at half its measured maximum.
    Prints req/s, p50/p99 latency, the ratio (target >= 0.6) and the half-load p99 (target <= 15 ms);
    writes the same to bench-results/bench.json. Stops only what it started.
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        options = BenchOptions(duration, connections, threads, rounds, workers, keyspace, output)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so the cleanup below runs on SIGTERM too
    try:
        results = run_benchmark(options, progress=lambda message: click.echo(f"bench: {message}", err=True))
    except BenchError as error:
        click.echo(f"slotbandit bench: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("slotbandit bench: interrupted; everything it started is stopped", err=True)
        sys.exit(130)
    click.echo(format_report(results))
    click.echo(f"(written to {options.output})", err=True)


def _exit_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


@main.command("gunicorn", hidden=True)
@click.argument("app_uri")
@click.argument("port", type=click.IntRange(1, 65535))
@click.argument("workers", type=click.IntRange(1, 64), required=False)
def serve_app(app_uri: str, port: int, workers: Optional[int]) -> None:
    """Serve APP_URI through app.server.run, the settings ``slotbandit serve`` uses."""
    from app.server import port_is_free, run

    if not port_is_free(HOST, port):
        raise click.ClickException(f"port {port} on {HOST} is already in use")
    run(app_uri, HOST, port, workers)


if __name__ == "__main__":
    main()
