"""`slotbandit kafka start|stop|status` and the worker's one-line errors, through the real command."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SLOTBANDIT = str(Path(sys.executable).parent / "slotbandit")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(*args, env=None):
    return subprocess.run([SLOTBANDIT, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def cli_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SLOTBANDIT_KAFKA"))}
    env["SLOTBANDIT_CASSANDRA_DATA_DIR"] = str(tmp_path / "cassandra")  # the broker's pid file goes beside it
    return env


def test_start_status_stop_leaves_no_process(cli_env, kafka_broker):  # kafka_broker: binary installed once
    port = str(free_port())
    started = run("kafka", "start", "--port", port, env=cli_env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("kafka broker running (pid ")
    pid = int(started.stdout.split("pid ")[1].split(",")[0])
    assert run("kafka", "start", "--port", port, env=cli_env).returncode == 0  # already running: fine
    assert run("kafka", "status", "--port", port, env=cli_env).returncode == 0
    stopped = run("kafka", "stop", "--port", port, env=cli_env)
    assert stopped.returncode == 0 and stopped.stdout.strip() == "kafka broker stopped"
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert run("kafka", "status", "--port", port, env=cli_env).returncode == 1
    assert run("kafka", "stop", "--port", port, env=cli_env).stdout.strip() == "kafka broker was not running"


def test_start_on_a_busy_port_is_one_clear_line(cli_env, kafka_broker):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("kafka", "start", "--port", str(busy.getsockname()[1]), env=cli_env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "already in use" in result.stderr


def test_worker_without_or_with_an_unreachable_broker_is_one_clear_line(cli_env):
    missing = run("worker", env=cli_env)
    assert missing.returncode == 1 and missing.stderr.strip() == (
        "slotbandit: KAFKA_BOOTSTRAP_SERVERS is not set: point it at the broker, e.g. 127.0.0.1:19092")
    unreachable = run("worker", env=dict(cli_env, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}"))
    assert unreachable.returncode == 1 and unreachable.stderr.count("\n") == 1
    assert "cannot reach Kafka" in unreachable.stderr


def test_help_teaches(cli_env):
    assert "exactly once" in run("worker", "--help", env=cli_env).stdout
    assert "--metrics-port" in run("worker", "--help", env=cli_env).stdout
    assert "19092" in run("kafka", "--help", env=cli_env).stdout


def test_start_without_the_kafka_extra_is_one_line_and_starts_nothing(cli_env):
    # kafka-python hidden from the command (sys.modules[...] = None makes the import fail), as on an
    # install without the kafka extra.
    port = str(free_port())
    code = ("import sys; sys.modules['kafka'] = None; sys.argv = ['slotbandit'] + sys.argv[1:]; "
            "from app.cli import main; main()")
    for args in (["kafka", "start", "--port", port], ["worker"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                env=dict(cli_env, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}"), timeout=60)
        assert result.returncode == 1, result.stderr
        assert result.stderr == "slotbandit: the Kafka commands need the kafka extra: pip install 'slotbandit[kafka]'\n"
    assert not any(port in " ".join(_command_line(pid)) for pid in _pids() if "tansu" in " ".join(_command_line(pid)))
    assert run("kafka", "status", "--port", port, env=cli_env).returncode == 1


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _command_line(pid: int) -> list:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []
