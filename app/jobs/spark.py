"""The SparkSession of a job: ``local[*]`` by default, the cluster named by SPARK_MASTER otherwise.

No Spark Cassandra connector is needed: executors read and write Cassandra with the Python driver
inside ``mapPartitions`` (see app.jobs.log_frames). On a cluster with the connector installed the
same jobs could read ``org.apache.spark.sql.cassandra`` instead; the Python-driver path is what
runs everywhere.

A start is quiet unless ``verbose``: local runs bind to 127.0.0.1 (no "hostname resolves to a
loopback address" warning), log4j starts at ERROR, and what the JVM still prints on its own
(Java's incubator-module warning cannot be switched off) goes to ``spark_log_path()`` instead of
the terminal.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

DEFAULT_MASTER = "local[*]"

# log4j2 for the driver: everything at ERROR on stderr (which is the Spark log file unless verbose).
_LOG4J_QUIET = """\
status = error
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
rootLogger.level = error
rootLogger.appenderRef.stdout.ref = console
"""


class SparkUnavailable(Exception):
    """PySpark is not installed or Java cannot start; ``str(error)`` is one line."""


def spark_log_path() -> Path:
    """Where a quiet start sends the JVM's own output (one file per process)."""
    return Path(tempfile.gettempdir()) / f"slotbandit-spark-{os.getpid()}.log"


def spark_session(app_name: str = "slotbandit", verbose: bool = False):
    """The process's SparkSession (created once; later calls return the same session)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("PySpark is not installed: pip install 'slotbandit[spark]'") from None
    # Executors must run this interpreter (with the project's packages), not the system python.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = os.environ.get("SPARK_MASTER") or DEFAULT_MASTER
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (
        SparkSession.builder.master(master).appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", os.environ.get("SLOTBANDIT_SPARK_PARTITIONS", "8"))
        .config("spark.driver.memory", os.environ.get("SLOTBANDIT_SPARK_DRIVER_MEMORY", "1g"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.python.worker.reuse", "true")
    )
    if not verbose:
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={_quiet_log4j()}")
    try:
        with (contextlib.nullcontext() if verbose else _stderr_to(spark_log_path())):
            session = builder.getOrCreate()
    except Exception as error:  # Java missing or failing to start
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        where = "" if verbose else f" (Spark's log: {spark_log_path()})"
        raise SparkUnavailable(f"cannot start Spark ({master}): {first}{where}") from None
    session.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # no "closing connection" lines at exit
    return session


def _quiet_log4j() -> Path:
    path = Path(tempfile.gettempdir()) / "slotbandit-log4j2-quiet.properties"
    if not path.exists() or path.read_text() != _LOG4J_QUIET:
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(_LOG4J_QUIET)
        partial.replace(path)
    return path


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at ``path`` while the JVM starts: the JVM keeps it as its stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
