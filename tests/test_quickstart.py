"""``./scripts/quickstart --simulate N`` end to end, as the README tells a newcomer to run it: its own
embedded Cassandra (on free ports and a data directory of this test), the demo tenant, the service,
a simulated run; when the command returns, nothing it started is still running.
"""
import os
import secrets
import subprocess

import pytest

from app.settings import REPO_ROOT
from benchmarks.live_server import free_port
from tests.app.devservers.test_embedded_cassandra import processes_mentioning

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_quickstart_runs_the_demo_and_leaves_nothing_running(tmp_path):
    data_dir = tmp_path / "cassandra"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "SLOTBANDIT_", "KAFKA_"))}
    env.update({"CASSANDRA_PORT": str(free_port()), "SLOTBANDIT_CASSANDRA_STORAGE_PORT": str(free_port()),
                "SLOTBANDIT_CASSANDRA_DATA_DIR": str(data_dir), "SLOTBANDIT_PORT": str(free_port()),
                "CASSANDRA_KEYSPACE": f"sbquick_{secrets.token_hex(4)}", "SLOTBANDIT_SECRET": "quickstart-test-secret"})
    script = subprocess.Popen([str(REPO_ROOT / "scripts" / "quickstart"), "--simulate", "40"], cwd=REPO_ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = script.communicate(timeout=420)
    finally:
        if script.poll() is None:
            script.kill()
    # Checked at once, without waiting: the command returns only after everything it started is gone.
    left = processes_mentioning(str(data_dir)) + processes_mentioning(f" watch {script.pid} ")
    assert script.returncode == 0, err[-3000:]
    assert "visitors" in out, out
    assert left == [], (left, err[-2000:])
    assert "stopping the embedded Cassandra" in err
