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
    """The embedded development Cassandra (127.0.0.1, CASSANDRA_PORT). Not for production."""


def _embedded(settings: Settings):
    from app.devservers.cassandra import EmbeddedCassandra

    if not settings.embedded:
        raise CliError("CASSANDRA_HOSTS is set: the embedded server is not used (unset it to run one)")
    return EmbeddedCassandra(port=settings.cassandra_port, storage_port=settings.cassandra_storage_port,
                             data_dir=settings.cassandra_data_dir, cache_dir=settings.cache_dir)


@cassandra.command("start")
@click.option("--watch-pid", type=int, default=None,
              help="Stop the server when this process exits (used by quickstart and tests).")
@click.option("--wait", "wait_s", type=float, default=180, show_default=True, help="Seconds to wait for CQL.")
def cassandra_start(watch_pid: Optional[int], wait_s: float) -> None:
    """Start the server and return once CQL answers (downloads it once into .cache/)."""
    from app.devservers.cassandra import EmbeddedCassandraError

    server = _embedded(load_settings())
    try:
        pid = server.start(wait_s=wait_s, watch_pid=watch_pid, log=lambda m: click.echo(m, err=True))
    except EmbeddedCassandraError as error:
        raise CliError(str(error)) from None
    click.echo(f"cassandra running (pid {pid}, CQL on 127.0.0.1:{server.port}, data in {server.data_dir})")


@cassandra.command("stop")
def cassandra_stop() -> None:
    """Stop the server; no process is left behind."""
    server = _embedded(load_settings())
    stopped = server.stop(log=lambda m: click.echo(m, err=True))
    click.echo("cassandra stopped" if stopped else "cassandra was not running")


@cassandra.command("status")
def cassandra_status() -> None:
    """Say whether the server runs and answers CQL; exit 1 when it does not."""
    status = _embedded(load_settings()).status()
    state = "running" if status["running"] else "stopped"
    ready = ", CQL ready" if status.get("cql_ready") else ""
    click.echo(f"cassandra {state}{ready} (pid {status.get('pid')}, port {status['port']}, data {status['data_dir']})")
    if not status["running"]:
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
    if settings.effective_protocol_version:
        command.append(f"--protocol-version={settings.effective_protocol_version}")
    if settings.username:
        command += ["-u", settings.username, "-p", settings.password or ""]
    if cql_file:
        command += ["-f", cql_file]
    sys.exit(subprocess.call(command + list(cqlsh_args)))
