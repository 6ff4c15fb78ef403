"""`slotbandit cassandra start --nodes N`: a real local cluster on 127.0.0.1 .. 127.0.0.N, one status line
per node, and stop leaves no process."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.devservers.cluster import EmbeddedCluster, node_token
from app.devservers.processes import is_alive
from benchmarks.faults import _free_port_on_all

pytestmark = pytest.mark.slow

SLOTBANDIT = str(Path(sys.executable).parent / "slotbandit")


def test_tokens_split_the_ring_evenly():
    assert [node_token(i, 3) for i in (1, 2, 3)] == [-9223372036854775808, -3074457345618258603,
                                                       3074457345618258602]
    with pytest.raises(ValueError, match="nodes must be an integer from 1 to 5"):
        EmbeddedCluster(nodes=6)


def test_two_nodes_start_answer_and_stop_without_a_trace(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "SLOTBANDIT_"))}
    env.update(CASSANDRA_PORT=str(_free_port_on_all(2)), SLOTBANDIT_CASSANDRA_STORAGE_PORT=str(_free_port_on_all(2)),
               SLOTBANDIT_CASSANDRA_DATA_DIR=str(tmp_path / "cassandra"))

    def run(*args):
        return subprocess.run([SLOTBANDIT, "cassandra", *args], capture_output=True, text=True, env=env, timeout=300)

    started = run("start", "--nodes", "2")
    try:
        assert started.returncode == 0, started.stderr
        assert "ring of 2 nodes ready" in started.stderr
        status = run("status")
        lines = status.stdout.strip().splitlines()
        assert status.returncode == 0 and len(lines) == 2
        assert [line.split()[1] for line in lines] == ["127.0.0.1", "127.0.0.2"]
        pids = [int(line.split("pid ")[1].split(",")[0]) for line in lines]
        assert all("CQL ready" in line for line in lines) and all(is_alive(pid) for pid in pids)
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "cassandra stopped (2 nodes)"
    assert not any(is_alive(pid) for pid in pids)
    assert run("status").returncode == 1
