"""A Spark command's terminal shows the command's own lines only: Spark starts quietly.

Run as a child process, because the quiet start concerns a fresh JVM (the test session's own
SparkSession is already up) and what reaches the real stderr file descriptor, not Python's.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import process_env

pytestmark = pytest.mark.integration

SLOTBANDIT = str(Path(sys.executable).parent / "slotbandit")
# What Spark and the JVM print on a default start (seen on this project's machines): none may show.
NOISE = ("WARN", "log4j", "SPARK_LOCAL_IP", "incubator", "native-hadoop", "Setting default log level")


def test_a_spark_command_prints_only_its_own_lines(settings, tenant, tmp_path):
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    tenant.add_slot("home", creatives=("a",))
    out = tmp_path / "export"
    env = process_env(settings)
    env.pop("SPARK_LOCAL_IP", None)
    done = subprocess.run([SLOTBANDIT, "export-events", "--since", "2026-11-01", "--until", "2026-11-02",
                           "--format", "csv", "--out", str(out), "--tenant", tenant.name],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 0 events to {out} (csv)"
    lines = done.stderr.strip().splitlines()
    assert lines and all(line.startswith("exporting events from ") for line in lines), done.stderr
    assert not any(word in done.stderr for word in NOISE), done.stderr
