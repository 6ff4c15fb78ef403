"""``scripts/bench``: throughput of the decision endpoint as a ratio to a bare Flask endpoint.

Absolute numbers on a small shared machine are noisy, so one run measures both under the same
gunicorn settings (``app.api.server.gunicorn_options``), alternating bare and decision rounds so that
background noise (Cassandra compactions, other processes) hits both, and reports the median.
Then the decision endpoint is measured again at half of its measured maximum, with a paced load.

Everything runs against a keyspace of its own (``slotbandit_bench`` by default), so a benchmark
neither rotates the developer's demo key nor adds its impressions to the developer's counts.

``bare_app`` is the bare endpoint; ``python -m benchmarks.decisions gunicorn APP_URI PORT [WORKERS]`` serves
either app through ``app.api.server.run``. wrk is run and read by ``benchmarks.wrk``. Nothing else runs at import.
"""
from __future__ import annotations

import ctypes
import json
import os
import platform
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import click
import requests
from flask import Flask, jsonify

from app.devservers.processes import port_in_use
from app.api.server import gunicorn_options, run
from app.settings import REPO_ROOT, Settings, SettingsError
from benchmarks.capped import format_capped, measure_capped
from benchmarks.wrk import PACING_LUA, PERCENTILES, WrkError, WrkResult, pacing_interval_ms, parse_paced, run_wrk

bare_app = Flask(__name__)


@bare_app.get("/bare")
def bare():
    return jsonify({"ok": True, "n": 1})


DECISION_PATH = "/slot/home-banner/creative?platform=web&city=pune"  # a slot of cql/examples/demo.cql
# With --half-life: a twin of that slot (the same banners) with the half-life, measured in the same rounds.
HALF_LIFE_SLOT = "home-banner-half-life"
HALF_LIFE_PATH = f"/slot/{HALF_LIFE_SLOT}/creative?platform=web&city=pune"
BARE_PATH = "/bare"
HOST = "127.0.0.1"
RATIO_TARGET = 0.6
HALF_LOAD_P99_TARGET_MS = 15.0
WARMUP_REQUESTS = 300
# Then a short load on each endpoint, not measured: the workers' caches and write queues, and the
# code a just-started Cassandra compiles, reach the state they keep under load.
WARMUP_LOAD_S = 3
SETTLE_S = 2.0  # pause between phases: queued impressions get written, sockets in TIME_WAIT go
# The demo tenant gets a rate limit it never reaches: every measured decision takes a token from the
# shared bucket, so the ratio includes the limiter's cost (app/service/rate_limits.py).
BENCH_TENANT_RPS = 1_000_000.0
Progress = Callable[[str], None]


class BenchError(Exception):
    """Something did not start or answered wrongly; ``str(error)`` is one line for the operator."""


# --- the benchmark --------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchOptions:
    duration_s: int = 10
    connections: int = 16
    threads: int = 2
    rounds: int = 3
    workers: Optional[int] = None  # None: gunicorn_options' default (CPU count)
    keyspace: str = "slotbandit_bench"
    output: Path = REPO_ROOT / "bench-results" / "bench.json"
    half_life_s: Optional[int] = None  # a twin slot with this half-life is measured too, in the same rounds

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
    settings = bench_settings(options.keyspace)
    load_before = os.getloadavg()
    with ExitStack() as cleanup:
        cassandra = ensure_cassandra(settings, progress, cleanup)
        api_key = _prepare_data(settings, progress, options.half_life_s)
        log_dir = options.output.parent
        log_dir.mkdir(parents=True, exist_ok=True)
        env = _service_env(settings)
        servers = {}
        for name, app_uri in (("bare", "benchmarks.decisions:bare_app"), ("decision", "app.wsgi:app")):
            servers[name] = _start_gunicorn(app_uri, options.workers, env, log_dir / f"gunicorn-{name}.log",
                                            progress, cleanup)
        urls = {"bare": servers["bare"] + BARE_PATH, "decision": servers["decision"] + DECISION_PATH}
        if options.half_life_s:
            urls["decision_half_life"] = servers["decision"] + HALF_LIFE_PATH
        headers = {"X-Api-Key": api_key}
        for name, url in urls.items():
            progress(f"warming up {name} ({WARMUP_REQUESTS} requests, then {WARMUP_LOAD_S} s of wrk)")
            _warm_up(url, headers)
            _checked(f"{name} warm-up", _wrk(url, api_key, options, WARMUP_LOAD_S)[0])
        load_at_start = os.getloadavg()
        rounds = _alternating_rounds(urls, api_key, options, progress)
        summary = {name: median_result(results) for name, results in rounds.items()}
        half = _half_load(urls, api_key, options, summary["decision"]["requests_per_s"] / 2, progress)
        writer = _impression_counts(servers["decision"])
        capped = measure_capped(settings, progress=progress)
    progress("measuring the rate limiter's cost per request (benchmarks.limiter_cost)")
    limiter = _limiter_cost()
    workers = gunicorn_options(HOST, 0, options.workers)["workers"]
    results = {
        "ratio": summary["decision"]["requests_per_s"] / summary["bare"]["requests_per_s"],
        **({"ratio_half_life": summary["decision_half_life"]["requests_per_s"] / summary["bare"]["requests_per_s"]}
           if "decision_half_life" in summary else {}),
        "ratio_target": RATIO_TARGET,
        "endpoints": summary,
        "half_load": half,
        "half_load_p99_target_ms": HALF_LOAD_P99_TARGET_MS,
        "rounds": {name: [asdict(r) for r in results] for name, results in rounds.items()},
        "impressions": writer,
        "frequency_cap": capped,
        "rate_limiter": limiter,
        "setup": {"gunicorn_workers": workers, "worker_class": gunicorn_options(HOST, 0)["worker_class"],
                  "wrk": f"-t{options.threads} -c{options.connections} -d{options.duration_s}s --latency",
                  "rounds": options.rounds, "decision_path": DECISION_PATH, "half_life_s": options.half_life_s, "keyspace": settings.keyspace,
                  "cassandra": cassandra},
        "machine": {"nproc": os.cpu_count(), "load_average_before": list(load_before),
                    "load_average_before_wrk": list(load_at_start), "python": platform.python_version(),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
    }
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    return results


def _alternating_rounds(urls: Dict[str, str], api_key: str, options: BenchOptions,
                        progress: Progress) -> Dict[str, List[WrkResult]]:
    """bare, decision, bare, decision, ... (and the half-life slot after each decision round): background
    noise lands on every endpoint alike."""
    rounds: Dict[str, List[WrkResult]] = {name: [] for name in urls}
    for number in range(1, options.rounds + 1):
        for name in urls:
            time.sleep(SETTLE_S)
            progress(f"wrk {name}, round {number}/{options.rounds}: {options.duration_s} s at "
                     f"{options.connections} connections")
            rounds[name].append(_checked(name, _wrk(urls[name], api_key, options, options.duration_s)[0]))
    return rounds


def bench_settings(keyspace: str) -> Settings:
    try:
        settings = Settings.from_env({**os.environ, "CASSANDRA_KEYSPACE": keyspace})
    except SettingsError as error:
        raise BenchError(str(error)) from None
    return replace(settings, secret=secrets.token_urlsafe(32).encode())


def ensure_cassandra(settings: Settings, progress: Progress, cleanup: ExitStack) -> str:
    """Reuse a running Cassandra; start the embedded one only when none answers, and stop only that."""
    if not settings.embedded:
        return f"external ({','.join(settings.cassandra_hosts)})"
    from app.devservers.cassandra import EmbeddedCassandra, EmbeddedCassandraError

    server = EmbeddedCassandra(port=settings.cassandra_port, storage_port=settings.cassandra_storage_port,
                               data_dir=settings.cassandra_data_dir, cache_dir=settings.cache_dir,
                               jit=settings.cassandra_jit)
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


def _prepare_data(settings: Settings, progress: Progress, half_life_s: Optional[int] = None) -> str:
    """Schema and demo tenant in the benchmark's keyspace (and with ``half_life_s`` a twin of the
    benchmark's slot with that half-life); returns the demo API key."""
    from cassandra.cluster import NoHostAvailable

    from app.storage.db import Database, one_line
    from app.devservers.demo import DEMO_TENANT, load_demo
    from app.storage.schema import apply_schema
    from app.storage.tenants import TenantStore

    progress(f"applying the schema to keyspace {settings.keyspace} and loading the demo tenant")
    db = Database(settings)
    try:
        apply_schema(settings, log=lambda message: None)
        db.connect()
        key = load_demo(db)
        TenantStore(db).set_limit(DEMO_TENANT, BENCH_TENANT_RPS)
        if half_life_s:
            _add_twin_slot(db, HALF_LIFE_SLOT, half_life_s)
        return key
    except NoHostAvailable:
        raise BenchError(f"cannot reach Cassandra at {','.join(settings.contact_points)}:"
                         f"{settings.cassandra_port}") from None
    except Exception as error:
        raise BenchError(f"preparing Cassandra failed: {one_line(error)}") from None
    finally:
        db.shutdown()


def _add_twin_slot(db, slot_id: str, half_life_s: int) -> None:
    """A copy of the demo's home-banner (its banners, shown everywhere) with ``half_life_s``."""
    from app.devservers.demo import DEMO_TENANT

    db.execute("INSERT INTO slots (tenant, platform, slot_id, attribution_window_s, objective, half_life_s) "
               "VALUES (?, 'web', ?, 86400, 'clicks', ?)", (DEMO_TENANT, slot_id, half_life_s))
    for row in db.execute("SELECT creative_id, image_url, payload FROM creatives WHERE tenant = ? AND platform = 'web' "
                          "AND slot_id = 'home-banner'", (DEMO_TENANT,)):
        db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, image_url, payload, active) "
                   "VALUES (?, 'web', ?, ?, ?, ?, true)", (DEMO_TENANT, slot_id, row["creative_id"], row["image_url"],
                                                           row["payload"]))


def _service_env(settings: Settings) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"CASSANDRA_KEYSPACE": settings.keyspace, "SLOTBANDIT_SECRET": settings.secret.decode()})
    return env


def _start_gunicorn(app_uri: str, workers: Optional[int], env: dict, log_file: Path, progress: Progress,
                    cleanup: ExitStack) -> str:
    """``app_uri`` under gunicorn on a free port, in its own process group; returns its base URL."""
    port = _free_port()
    command = [sys.executable, "-m", "benchmarks.decisions", "gunicorn", app_uri, str(port)]
    if workers is not None:
        command.append(str(workers))
    progress(f"starting gunicorn for {app_uri} on port {port} (log: {log_file})")
    with open(log_file, "wb") as log_stream:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_stream,
                                   stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent())
    cleanup.callback(_stop_process_group, process)
    url = f"http://{HOST}:{port}"
    ready_path = "/readyz" if app_uri == "app.wsgi:app" else BARE_PATH
    _wait_ready(process, url + ready_path, log_file)
    return url


def _die_with_parent() -> Optional[Callable[[], None]]:
    """A pre-exec hook that has the child SIGTERMed if the benchmark dies without cleaning up (Linux).

    prctl is looked up here, in the parent, so that the forked child only makes the call.
    """
    try:
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def _wait_ready(process: subprocess.Popen, url: str, log_file: Path, timeout_s: float = 60) -> None:
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
    def get(_):
        response = requests.get(url, headers=headers, timeout=10)
        return response.status_code, response.text[:200]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(get, range(WARMUP_REQUESTS)))
    failed = [answer for answer in answers if answer[0] != 200]
    if failed:
        raise BenchError(f"{len(failed)} of {WARMUP_REQUESTS} warm-up requests to {url} failed, e.g. "
                         f"{failed[0][0]} {failed[0][1]!r}")


def _wrk(url: str, api_key: str, options: BenchOptions, duration_s: int,
         script: Optional[Path] = None) -> Tuple[WrkResult, str]:
    try:
        return run_wrk(url, {"X-Api-Key": api_key}, options.threads, options.connections, duration_s, script)
    except WrkError as error:
        raise BenchError(str(error)) from None


def _checked(name: str, result: WrkResult) -> WrkResult:
    """Errors under load would make a fast endpoint out of a failing one: more than 0.1 % stops the run."""
    if result.errors > max(1, result.requests // 1000):
        raise BenchError(f"{name}: {result.non_2xx} error answers and socket errors {result.socket_errors} "
                         f"in {result.requests} requests: the numbers would not be valid (see the gunicorn logs)")
    return result


def median_result(results: List[WrkResult]) -> dict:
    return {"requests_per_s": statistics.median(r.requests_per_s for r in results),
            "latency_ms": {key: statistics.median(r.latency_ms[key] for r in results)
                           for key in ("avg", *PERCENTILES, "max")}}


def _half_load(urls: Dict[str, str], api_key: str, options: BenchOptions, target_per_s: float,
               progress: Progress) -> Dict[str, dict]:
    """The decision endpoint paced to ``target_per_s``, then the bare one at the same rate: the bare
    endpoint's p99 there is what the machine alone costs at that load (scheduling, other processes)."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="slotbandit-bench-") as tmp:
        script = Path(tmp) / "pacing.lua"
        script.write_text(PACING_LUA.format(interval_ms=pacing_interval_ms(target_per_s, options.threads),
                                            threads=options.threads))
        for name in ("decision", "bare"):
            time.sleep(SETTLE_S)
            progress(f"wrk {name} paced to {target_per_s:.0f} req/s (half the decision maximum): "
                     f"{options.duration_s} s")
            result, output = _wrk(urls[name], api_key, options, options.duration_s, script)
            _checked(f"{name} at half load", result)
            results[name] = {"target_requests_per_s": target_per_s, "requests_per_s": result.requests_per_s,
                             **parse_paced(output),
                             "latency_ms": {key: result.latency_ms[key] for key in ("avg", *PERCENTILES, "max")}}
    return results


def _impression_counts(base_url: str) -> dict:
    """Impressions written and dropped by the decision workers (a fast endpoint must not shed its writes)."""
    time.sleep(SETTLE_S)  # the last impressions of the run leave the workers' queues
    text = requests.get(base_url + "/metrics", timeout=10).text
    def total(name: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))
    return {"written": total("slotbandit_impressions_written_total"),
            "dropped": total("slotbandit_impressions_dropped_total")}


def _limiter_cost() -> dict:
    """``benchmarks.limiter_cost`` in a process of its own (set up as a gunicorn worker is)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.limiter_cost"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "scripts")})
    if done.returncode != 0:
        raise BenchError(f"measuring the rate limiter failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return json.loads(done.stdout)


def format_report(results: dict) -> str:
    """The table printed at the end of a run."""
    def row(label: str, numbers: dict) -> str:
        return (f"{label:<26}{numbers['requests_per_s']:>9.0f}{numbers['latency_ms']['50']:>9.2f}"
                f"{numbers['latency_ms']['99']:>9.2f}")

    ends, half = results["endpoints"], results["half_load"]
    ratio, p99 = results["ratio"], half["decision"]["latency_ms"]["99"]
    paced = half["decision"]
    setup, machine = results["setup"], results["machine"]
    return "\n".join([
        f"{'endpoint':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}",
        row("bare Flask JSON", ends["bare"]),
        row("decision", ends["decision"]),
        *([row(f"decision, half-life {setup['half_life_s']} s", ends["decision_half_life"])]
          if "decision_half_life" in ends else []),
        row("decision at half load", paced),
        row("bare at the same rate", half["bare"]),
        "",
        f"ratio decision/bare: {ratio:.2f} (target >= {RATIO_TARGET}: {'PASS' if ratio >= RATIO_TARGET else 'BELOW'})",
        *([f"ratio decision/bare with a half-life: {results['ratio_half_life']:.2f} (same rounds; plain {ratio:.2f})"]
          if "ratio_half_life" in results else []),
        f"half load p99: {p99:.2f} ms at {paced['requests_per_s']:.0f} req/s, paced to {paced['target_requests_per_s']:.0f}"
        f" ({paced['late']} of {paced['sent']} sent late) (target <= {HALF_LOAD_P99_TARGET_MS:.0f} ms: "
        f"{'PASS' if p99 <= HALF_LOAD_P99_TARGET_MS else 'ABOVE'})",
        f"impressions written {results['impressions']['written']:.0f}, dropped {results['impressions']['dropped']:.0f}",
        _limiter_line(results),
        f"setup: gunicorn {setup['gunicorn_workers']} {setup['worker_class']} workers; wrk {setup['wrk']}; "
        f"median of {setup['rounds']} alternating rounds; Cassandra {setup['cassandra']}",
        f"machine: nproc {machine['nproc']}; load average before the run {_loads(machine['load_average_before'])}, "
        f"before wrk {_loads(machine['load_average_before_wrk'])}",
    ] + (["", format_capped(results["frequency_cap"])] if "frequency_cap" in results else []))


def _limiter_line(results: dict) -> str:
    """The limiter's cost per request, and its share of a decision's time in a worker at full load."""
    cost = results["rate_limiter"]
    per_decision_us = results["setup"]["gunicorn_workers"] / results["endpoints"]["decision"]["requests_per_s"] * 1e6
    return (f"rate limiter: {cost['admit_us']:.1f} us per request (the shared bucket alone {cost['bucket_us']:.1f} us), "
            f"{cost['admit_us'] / per_decision_us:.1%} of a decision's {per_decision_us:.0f} us of worker time; "
            f"every measured decision went through it")


def _loads(loads: List[float]) -> str:
    return " ".join(f"{load:.2f}" for load in loads)


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


# --- command line ---------------------------------------------------------------------------------

@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--duration", "-d", type=click.IntRange(1, 600), default=10, show_default=True,
              help="Seconds of each wrk run.")
@click.option("--connections", "-c", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="wrk connections (open at once).")
@click.option("--threads", "-t", type=click.IntRange(1, 64), default=2, show_default=True, help="wrk threads.")
@click.option("--rounds", "-r", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Alternating rounds per endpoint (bare, decision, bare, ...); the median is reported.")
@click.option("--workers", "-w", type=click.IntRange(1, 64), default=None,
              help="gunicorn sync workers for both apps [default: as `slotbandit serve`, the CPU count].")
@click.option("--keyspace", default="slotbandit_bench", show_default=True, help="Keyspace the benchmark uses.")
@click.option("--half-life", type=click.IntRange(1, 10**7), default=None,
              help="Also measure a twin of the benchmark's slot with this half_life_s (its decisions read "
                   "discounted time buckets), in the same alternating rounds.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=REPO_ROOT / "bench-results" / "bench.json", help="JSON results [bench-results/bench.json].")
def main(duration, connections, threads, rounds, workers, keyspace, output, half_life) -> None:
    """Throughput of GET /slot/<id>/creative as a ratio to a bare Flask JSON endpoint.

    Starts the embedded Cassandra unless one runs (or CASSANDRA_HOSTS is set), loads the demo
    tenant into its own keyspace, serves both apps under the same gunicorn settings, measures
    them with wrk in alternating rounds, then the decision endpoint at half its measured maximum.
    Prints req/s, p50/p99 latency, the ratio (target >= 0.6) and the half-load p99 (target <= 15 ms);
    writes the same to bench-results/bench.json. Stops only what it started.

    Exit status 0 when it ran (the targets are reported, not asserted), 1 when something did not
    start or answered errors under load.
    """
    try:
        options = BenchOptions(duration, connections, threads, rounds, workers, keyspace, output, half_life)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        results = run_benchmark(options, progress=lambda message: click.echo(f"bench: {message}", err=True))
    except BenchError as error:
        click.echo(f"slotbandit bench: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("slotbandit bench: interrupted; what it started is stopped", err=True)
        sys.exit(130)
    click.echo(format_report(results))
    click.echo(f"(written to {options.output})", err=True)


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(143)  # unwinds like Ctrl-C: everything started is stopped on the way out


@click.command()
@click.argument("app_uri")
@click.argument("port", type=click.IntRange(1, 65535))
@click.argument("workers", type=click.IntRange(1, 64), required=False)
def serve_app(app_uri: str, port: int, workers: Optional[int]) -> None:
    """Serve APP_URI through app.api.server.run, the settings `slotbandit serve` uses."""
    if port_in_use(port, HOST):
        raise click.ClickException(f"port {port} on {HOST} is already in use")
    run(app_uri, HOST, port, workers)


if __name__ == "__main__":
    if sys.argv[1:2] == ["gunicorn"]:  # internal: ``python -m benchmarks.decisions gunicorn APP_URI PORT [WORKERS]``
        serve_app(sys.argv[2:], prog_name="python -m benchmarks.decisions gunicorn")
    else:
        main(prog_name="scripts/bench")
