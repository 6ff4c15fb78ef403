"""``slotbandit cassandra``, ``schema`` and ``cqlsh``: the development server and the keyspace."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

import click

from app.cli.common import CliError, load_settings
from app.settings import Settings


@click.group()
def cassandra() -> None:
    """The embedded development Cassandra: one node on 127.0.0.1, or a local cluster of up to five
    nodes on 127.0.0.1 .. 127.0.0.N (CASSANDRA_PORT on every address). Not for production."""


def _embedded(settings: Settings, nodes: int = 1):
    from app.devservers.cluster import EmbeddedCluster

    if not settings.local_hosts:
        raise CliError("CASSANDRA_HOSTS names hosts that are not this machine: the embedded server is not used")
    return EmbeddedCluster(nodes=nodes, port=settings.cassandra_port, storage_port=settings.cassandra_storage_port,
                           data_dir=settings.cassandra_data_dir, cache_dir=settings.cache_dir,
                           jit=settings.cassandra_jit)


@cassandra.command("start")
@click.option("--nodes", type=click.IntRange(1, 5), default=1, show_default=True,
              help="Nodes of a local cluster on 127.0.0.1 .. 127.0.0.N (use with CASSANDRA_HOSTS listing them "
                   "and CASSANDRA_REPLICATION with replication_factor 3).")
@click.option("--watch-pid", type=int, default=None,
              help="Stop the server when this process exits (used by quickstart and tests).")
@click.option("--wait", "wait_s", type=float, default=180, show_default=True, help="Seconds to wait for CQL.")
def cassandra_start(nodes: int, watch_pid: Optional[int], wait_s: float) -> None:
    """Start the node(s) and return once each answers CQL and the ring shows them all
    (downloads Cassandra once into .cache/).

    \b
      slotbandit cassandra start --nodes 3
      export CASSANDRA_HOSTS=127.0.0.1,127.0.0.2,127.0.0.3
      export CASSANDRA_REPLICATION="{'class': 'SimpleStrategy', 'replication_factor': 3}"
      slotbandit schema apply
    """
    from app.devservers.cassandra import EmbeddedCassandraError

    cluster = _embedded(load_settings(), nodes)
    try:
        pids = cluster.start(wait_s=wait_s, watch_pid=watch_pid, log=lambda m: click.echo(m, err=True))
    except EmbeddedCassandraError as error:
        raise CliError(str(error)) from None
    for node, pid in zip(cluster.members(), pids):
        click.echo(f"cassandra running (pid {pid}, CQL on {node.host}:{node.port}, data in {node.data_dir})")


@cassandra.command("stop")
def cassandra_stop() -> None:
    """Stop every embedded node (single server or cluster); no process is left behind."""
    stopped = _embedded(load_settings()).stop(log=lambda m: click.echo(m, err=True))
    click.echo(f"cassandra stopped ({stopped} nodes)" if stopped else "cassandra was not running")


@cassandra.command("status")
def cassandra_status() -> None:
    """One line per node: address, pid, whether it answers CQL; exit 1 when none runs."""
    statuses = _embedded(load_settings()).status()
    for status in statuses:
        state = "running" if status["running"] else "stopped"
        ready = ", CQL ready" if status.get("cql_ready") else ""
        click.echo(f"cassandra {status['host']} {state}{ready} (pid {status.get('pid')}, port {status['port']}, "
                   f"data {status['data_dir']})")
    if not any(status["running"] for status in statuses):
        sys.exit(1)


@click.group()
def schema() -> None:
    """The keyspace and tables (cql/*.cql)."""


@schema.command("apply")
def schema_apply() -> None:
    """Apply cql/ in order. Safe to run again: every statement is IF NOT EXISTS."""
    from app.storage.db import UNREACHABLE
    from app.storage.schema import apply_schema

    settings = load_settings()
    try:
        apply_schema(settings, log=click.echo)
    except UNREACHABLE:
        raise CliError(f"cannot reach Cassandra at {','.join(settings.contact_points)}:{settings.cassandra_port}: "
                       "start it with `slotbandit cassandra start` or set CASSANDRA_HOSTS") from None
    click.echo(f"schema ready in keyspace {settings.keyspace}")


@click.command("cqlsh", context_settings={"ignore_unknown_options": True})
@click.option("-f", "--file", "cql_file", type=click.Path(exists=True, dir_okay=False), help="Run this CQL file.")
@click.argument("cqlsh_args", nargs=-1, type=click.UNPROCESSED)
def cqlsh(cql_file: Optional[str], cqlsh_args) -> None:
    """cqlsh connected to the configured cluster and keyspace (extra arguments go to cqlsh)."""
    settings = load_settings()
    binary = Path(sys.executable).with_name("cqlsh")
    if not binary.exists():
        raise CliError("cqlsh is not installed in this environment: pip install 'slotbandit[cqlsh]'")
    command = [str(binary), settings.contact_points[0], str(settings.cassandra_port), "-k", settings.keyspace]
    protocol_version = settings.effective_protocol_version or (3 if settings.local_hosts else None)
    if protocol_version:  # the embedded Cassandra 2.1 (one node or a local cluster) speaks v3 only
        command.append(f"--protocol-version={protocol_version}")
    if settings.username:
        command += ["-u", settings.username, "-p", settings.password or ""]
    if cql_file:
        command += ["-f", cql_file]
    sys.exit(subprocess.call(command + list(cqlsh_args)))
