"""Process plumbing shared by the embedded development servers (Cassandra, the Kafka broker).

Each server runs as a child process with a pid file; a watchdog process (``python -m <module>
watch WATCH_PID CHILD_PID``) stops it when the process that asked for it dies, so neither tests
nor quickstart leave an orphan behind.
"""
from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

HOST = "127.0.0.1"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on path (created if missing) for the duration of the block."""
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# Sets this process's timer slack, then becomes the command (argv[2:]); the slack is inherited by
# every thread the command starts (prctl(2), PR_SET_TIMERSLACK; Linux only, elsewhere a no-op).
_TIMER_SLACK_EXEC = (
    "import ctypes, os, sys\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(29, ctypes.c_ulong(int(sys.argv[1])), 0, 0, 0)\n"
    "except (AttributeError, OSError):\n"
    "    pass\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def with_timer_slack(command: list, slack_ns: int) -> list:
    """``command`` run with a timer slack of ``slack_ns``: its timed sleeps may end that much late.

    A coarse slack lets the kernel batch the wake-ups of threads that poll with very short sleeps;
    it does not delay a thread woken by an event (a lock, a socket)."""
    return [sys.executable, "-c", _TIMER_SLACK_EXEC, str(int(slack_ns)), *command]


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def is_alive(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def command_line(pid: int) -> Optional[list]:
    """The arguments a live process was started with, or None."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM, wait up to timeout, then SIGKILL; returns once the process is gone."""
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            _reap(pid)
            if not is_alive(pid):
                _reap(pid)  # it may have exited between the two checks: no zombie is left behind
                return
            time.sleep(0.2)


def _reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is an exited child of this process."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def last_lines(text: str, count: int) -> str:
    """The last lines that say something: no blanks, stack frames or '... N more'."""
    meaningful = [line.strip() for line in text.splitlines()
                  if line.strip() and not line[:1].isspace() and not line.startswith("...")]
    return " | ".join(meaningful[-count:])


def watchdog_file(pid_file: Path) -> Path:
    """Where the pid of the watchdog of the server with ``pid_file`` is kept."""
    return pid_file.with_name(pid_file.name + ".watchdog")


def spawn_watchdog(module: str, watch_pid: int, child_pid: int, pid_file: Path) -> int:
    """Start ``python -m module watch WATCH_PID CHILD_PID`` in a session of its own; its pid goes to
    ``watchdog_file(pid_file)`` so that stopping the server stops the watchdog too."""
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p))
    process = subprocess.Popen([sys.executable, "-m", module, "watch", str(watch_pid), str(child_pid)],
                               cwd=package_root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    watchdog_file(pid_file).write_text(f"{process.pid}\n")
    return process.pid


def stop_watchdog(pid_file: Path, child_pid: int) -> None:
    """Stop the watchdog of the server ``child_pid`` (after the server is gone): whoever stops a server
    returns only once nothing it started is left running."""
    path = watchdog_file(pid_file)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return
    args = command_line(pid) or []
    if "watch" in args and str(child_pid) in args:  # the pid may have been reused since
        terminate(pid, timeout=2.0)
    path.unlink(missing_ok=True)


def watch(is_child: Callable[[int], bool], watch_pid: int, child_pid: int, grace_s: float,
          poll_s: float = 0.5) -> None:
    """Stop child_pid when watch_pid dies; return once the child is gone."""
    while is_child(child_pid):
        if not is_alive(watch_pid):
            terminate(child_pid, grace_s)
            return
        time.sleep(poll_s)


def watchdog_main(module: str, is_child: Callable[[int], bool], grace_s: float,
                  argv: Optional[list] = None) -> int:
    """``watch WATCH_PID CHILD_PID``: the command line of a server module's watchdog."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "watch" or not (args[1].isdigit() and args[2].isdigit()):
        print(f"usage: python -m {module} watch WATCH_PID CHILD_PID", file=sys.stderr)
        return 2
    watch(is_child, int(args[1]), int(args[2]), grace_s)
    return 0
