"""The SparkSession of a job: ``local[*]`` by default, the cluster named by SPARK_MASTER otherwise.

No Spark Cassandra connector is needed: executors read and write Cassandra with the Python driver
inside ``mapPartitions`` (see app.jobs.log_frames). On a cluster with the connector installed the
same jobs could read ``org.apache.spark.sql.cassandra`` instead; the Python-driver path is what
runs everywhere.
"""
from __future__ import annotations

import logging
import os
import sys

DEFAULT_MASTER = "local[*]"


class SparkUnavailable(Exception):
    """PySpark is not installed or Java cannot start; ``str(error)`` is one line."""


def spark_session(app_name: str = "slotbandit"):
    """The process's SparkSession (created once; later calls return the same session)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("PySpark is not installed: pip install 'slotbandit[spark]'") from None
    # Executors must run this interpreter (with the project's packages), not the system python.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = os.environ.get("SPARK_MASTER") or DEFAULT_MASTER
    try:
        session = (
            SparkSession.builder.master(master).appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", os.environ.get("SLOTBANDIT_SPARK_PARTITIONS", "8"))
            .config("spark.driver.memory", os.environ.get("SLOTBANDIT_SPARK_DRIVER_MEMORY", "1g"))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.python.worker.reuse", "true")
            .getOrCreate()
        )
    except Exception as error:  # Java missing or failing to start
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SparkUnavailable(f"cannot start Spark ({master}): {first}") from None
    session.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # no "closing connection" lines at exit
    return session
