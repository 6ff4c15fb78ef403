"""The ``slotbandit`` command. Each command parses its options, calls library code, prints results.

Errors an operator can fix are one line on stderr and exit status 1, never a stack trace.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

import click

from app.settings import Settings, SettingsError


class CliError(click.ClickException):
    """One line on stderr, exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"slotbandit: {self.message}", err=True)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise CliError(str(error)) from None


def _connect(settings: Settings):
    """A connected ``Database`` or a one-line explanation of why not."""
    from cassandra import InvalidRequest
    from cassandra.cluster import NoHostAvailable

    from app.db import Database, one_line

    db = Database(settings)
    where = f"{','.join(settings.contact_points)}:{settings.cassandra_port}"
    try:
        db.connect()
    except (NoHostAvailable, InvalidRequest) as error:
        # The driver reports an unknown keyspace as NoHostAvailable("... using keyspace '...'").
        if "keyspace" in str(error).lower():
            raise CliError(f"keyspace {settings.keyspace!r} does not exist: run `slotbandit schema apply`") from None
        if isinstance(error, InvalidRequest):
            raise CliError(one_line(error)) from None
        hint = "start it with `slotbandit cassandra start`" if settings.embedded else "check CASSANDRA_HOSTS"
        raise CliError(f"cannot reach Cassandra at {where}: {hint}") from None
    except Exception as error:
        raise CliError(f"cannot connect to Cassandra at {where}: {one_line(error)}") from None
    return db


class _OneLineErrors(click.Group):
    """Usage mistakes are one line too (click's default is a usage block and exit status 2)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            where = error.ctx.command_path if error.ctx else "slotbandit"
            click.echo(f"slotbandit: {error.format_message()} (see `{where} --help`)", err=True)
            sys.exit(2)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("slotbandit: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """slotbandit: pick the banner or offer to show by Thompson sampling, learn from every click.

    Settings come from the environment (CASSANDRA_HOSTS, CASSANDRA_PORT, CASSANDRA_KEYSPACE,
    SLOTBANDIT_SECRET, SLOTBANDIT_PORT, ...; see the README). Typical first run:

    \b
      slotbandit cassandra start      # the embedded development Cassandra
      slotbandit schema apply         # keyspace and tables
      slotbandit tenant create acme   # prints the tenant's API key
      slotbandit serve                # the HTTP service on 127.0.0.1:8000
    """


# --- embedded Cassandra -------------------------------------------------------------------------

@main.group()
def cassandra() -> None:
    """The embedded development Cassandra (127.0.0.1, CASSANDRA_PORT). Not for production."""


def _embedded(settings: Settings):
    from app.embedded_cassandra import EmbeddedCassandra

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
    from app.embedded_cassandra import EmbeddedCassandraError

    server = _embedded(_settings())
    try:
        pid = server.start(wait_s=wait_s, watch_pid=watch_pid, log=lambda m: click.echo(m, err=True))
    except EmbeddedCassandraError as error:
        raise CliError(str(error)) from None
    click.echo(f"cassandra running (pid {pid}, CQL on 127.0.0.1:{server.port}, data in {server.data_dir})")


@cassandra.command("stop")
def cassandra_stop() -> None:
    """Stop the server; no process is left behind."""
    server = _embedded(_settings())
    stopped = server.stop(log=lambda m: click.echo(m, err=True))
    click.echo("cassandra stopped" if stopped else "cassandra was not running")


@cassandra.command("status")
def cassandra_status() -> None:
    """Say whether the server runs and answers CQL; exit 1 when it does not."""
    status = _embedded(_settings()).status()
    state = "running" if status["running"] else "stopped"
    ready = ", CQL ready" if status.get("cql_ready") else ""
    click.echo(f"cassandra {state}{ready} (pid {status.get('pid')}, port {status['port']}, data {status['data_dir']})")
    if not status["running"]:
        sys.exit(1)


# --- schema, tenants, cqlsh ----------------------------------------------------------------------

@main.group()
def schema() -> None:
    """The keyspace and tables (cql/*.cql)."""


@schema.command("apply")
def schema_apply() -> None:
    """Apply cql/ in order. Safe to run again: every statement is IF NOT EXISTS."""
    from cassandra.cluster import NoHostAvailable

    from app.schema import apply_schema

    settings = _settings()
    try:
        apply_schema(settings, log=click.echo)
    except NoHostAvailable:
        raise CliError(f"cannot reach Cassandra at {','.join(settings.contact_points)}:{settings.cassandra_port}: "
                       "start it with `slotbandit cassandra start` or set CASSANDRA_HOSTS") from None
    click.echo(f"schema ready in keyspace {settings.keyspace}")


@main.group()
def tenant() -> None:
    """Tenants and their API keys (stored hashed; a key is shown once)."""


def _tenants():
    from app.store import TenantStore

    return TenantStore(_connect(_settings()))


def _tenant_action(action):
    from app.store import TenantError

    try:
        return action()
    except TenantError as error:
        raise CliError(str(error)) from None


@tenant.command("create")
@click.argument("name")
def tenant_create(name: str) -> None:
    """Create tenant NAME; the new API key is the last line of output."""
    key = _tenant_action(lambda: _tenants().create(name))
    click.echo(f"created tenant {name}; its API key (shown once):", err=True)
    click.echo(key)


@tenant.command("list")
def tenant_list() -> None:
    """List tenants with their creation and last key rotation times."""
    for row in _tenants().list():
        click.echo(f"{row['name']}\tcreated {row['created_at']:%Y-%m-%d %H:%M}"
                   + (f"\tkey rotated {row['rotated_at']:%Y-%m-%d %H:%M}" if row["rotated_at"] else ""))


@tenant.command("rotate-key")
@click.argument("name")
def tenant_rotate_key(name: str) -> None:
    """Give NAME a new key (last line of output); the old key stops working within seconds."""
    key = _tenant_action(lambda: _tenants().rotate_key(name))
    click.echo(f"new API key for {name} (shown once; the old key is revoked):", err=True)
    click.echo(key)


@tenant.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def tenant_delete(name: str, yes: bool) -> None:
    """Delete NAME, its key, slots and creatives (counts and event log are kept as history)."""
    if not yes:
        click.confirm(f"Delete tenant {name} and all its slots?", abort=True)
    removed = _tenant_action(lambda: _tenants().delete(name))
    click.echo(f"deleted tenant {name} ({removed} slots)")


@main.command("cqlsh", context_settings={"ignore_unknown_options": True})
@click.option("-f", "--file", "cql_file", type=click.Path(exists=True, dir_okay=False), help="Run this CQL file.")
@click.argument("cqlsh_args", nargs=-1, type=click.UNPROCESSED)
def cqlsh(cql_file: Optional[str], cqlsh_args) -> None:
    """cqlsh connected to the configured cluster and keyspace (extra arguments go to cqlsh)."""
    settings = _settings()
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


# --- service ---------------------------------------------------------------------------------------

@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=None, help="Port (default SLOTBANDIT_PORT or 8000).")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (default: CPU count).")
def serve(host: str, port: Optional[int], workers: Optional[int]) -> None:
    """Run the HTTP service under gunicorn (sync workers, JSON logs, /metrics summed over workers)."""
    from app.server import run

    from app.processes import port_in_use

    settings = _settings()
    try:
        settings.require_secret()
    except SettingsError as error:
        raise CliError(str(error)) from None
    port = port or settings.port
    if port_in_use(port, host):
        raise CliError(f"port {port} on {host} is already in use: stop the other process or pass --port")
    run("app.wsgi:app", host, port, workers)


@main.command("demo")
def demo() -> None:
    """Load the demo tenant ('demo') and its slots from cql/examples/demo.cql; print its API key last."""
    from app.demo import load_demo

    db = _connect(_settings())
    key = _tenant_action(lambda: load_demo(db))
    click.echo("demo tenant ready; its API key:", err=True)
    click.echo(key)


@main.command("simulate")
@click.option("--visitors", "-n", type=click.IntRange(1, 1_000_000), default=5000, show_default=True)
@click.option("--url", default=None, help="Service URL (default http://127.0.0.1:SLOTBANDIT_PORT).")
@click.option("--api-key", envvar="SLOTBANDIT_API_KEY", required=True, help="Tenant key (or SLOTBANDIT_API_KEY).")
@click.option("--slot", default="home-banner", show_default=True)
@click.option("--platform", default="web", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def simulate(visitors: int, url: Optional[str], api_key: str, slot: str, platform: str, seed: int) -> None:
    """Send synthetic visitors with known click rates through the HTTP API and print what was learned.

    The visitors come from the demo world (cities with different best banners); point it at a slot
    that holds the demo banners (the demo tenant's home-banner).
    """
    from app.simulate import SimulationError, run_http_simulation

    base = url or f"http://127.0.0.1:{_settings().port}"
    try:
        report = run_http_simulation(base, api_key, slot, platform, visitors, seed,
                                     progress=lambda m: click.echo(m, err=True))
    except SimulationError as error:
        raise CliError(str(error)) from None
    click.echo(report.format_table())


# --- commands defined in modules of their own -------------------------------------------------------

def _register_commands() -> None:
    """Add the commands that live in their own modules. They import CliError and friends from here,
    so this runs once everything above is defined."""
    from app.cli_insights import export_segments, report
    from app.cli_kafka import kafka_group, worker
    from app.cli_measure import export_log, ope
    from app.cli_revenue import attribute_command
    from app.cli_spark import backfill, export_events_command, seed_priors

    for command in (kafka_group, worker, seed_priors, export_events_command, backfill, ope, export_log, report,
                    export_segments, attribute_command):
        main.add_command(command)
    from app.cli_game import simulate_game; main.add_command(simulate_game)  # noqa: E702


if __name__ == "__main__":
    # `python -m app.cli` runs this file as __main__; the command modules import `app.cli`, a second
    # copy of this module. Run that copy, which has every command registered.
    from app.cli import main as registered_main

    registered_main()
else:
    _register_commands()

if __name__ != "__main__":  # training export and feature segments (app/cli_training.py)
    from app.cli_training import register as _register_training

    _register_training(main)
