"""A real ``slotbandit serve`` (gunicorn, several workers) in a subprocess, for end-to-end tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import requests

from app.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_env(settings: Settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "SLOTBANDIT_"))}
    env.update({
        "CASSANDRA_PORT": str(settings.cassandra_port),
        "CASSANDRA_KEYSPACE": settings.keyspace,
        "SLOTBANDIT_SECRET": settings.require_secret().decode(),
        "SLOTBANDIT_POSTERIOR_REFRESH_S": str(settings.posterior_refresh_s),
        "SLOTBANDIT_CONFIG_REFRESH_S": str(settings.config_refresh_s),
        "SLOTBANDIT_WRITE_INTERVAL_S": str(settings.write_interval_s),
        "CASSANDRA_REPLICATION": settings.replication,
    })
    if settings.cassandra_hosts:
        env["CASSANDRA_HOSTS"] = ",".join(settings.cassandra_hosts)
    if settings.protocol_version:
        env["CASSANDRA_PROTOCOL_VERSION"] = str(settings.protocol_version)
    return env


class LiveServer:
    def __init__(self, settings: Settings, workers: int = 2, extra_env: Optional[dict] = None):
        self.settings, self.workers, self.extra_env = settings, workers, extra_env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Optional[subprocess.Popen] = None
        # The server's log goes to a file: a pipe nobody reads would block it once full.
        self.log_file = Path(tempfile.mkstemp(prefix="slotbandit-serve-", suffix=".log")[1])

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:]

    def start(self, timeout_s: float = 60) -> "LiveServer":
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env={**service_env(self.settings), **self.extra_env}, stdout=subprocess.DEVNULL, stderr=log,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become ready")

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM (a clean stop: workers drain their write queues) and wait; returns the exit status."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code
