"""``slotbandit serve`` and ``slotbandit demo``: the HTTP service and the demo tenant."""
from __future__ import annotations

from typing import Optional

import click

from app.cli.common import CliError, connect, load_settings
from app.cli.tenants import tenant_action
from app.settings import SettingsError


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=None, help="Port (default SLOTBANDIT_PORT or 8000).")
@click.option("--workers", type=int, default=None, help="gunicorn worker processes (default: CPU count).")
def serve(host: str, port: Optional[int], workers: Optional[int]) -> None:
    """Run the HTTP service under gunicorn (sync workers, JSON logs, /metrics summed over workers)."""
    from app.api.server import run

    from app.devservers.processes import port_in_use

    settings = load_settings()
    try:
        settings.require_secret()
    except SettingsError as error:
        raise CliError(str(error)) from None
    port = port or settings.port
    if port_in_use(port, host):
        raise CliError(f"port {port} on {host} is already in use: stop the other process or pass --port")
    run("app.wsgi:app", host, port, workers)


@click.command("demo")
def demo() -> None:
    """Load the demo tenant ('demo') and its slots from cql/examples/demo.cql; print its API key last."""
    from app.devservers.demo import load_demo

    db = connect(load_settings())
    key = tenant_action(lambda: load_demo(db))
    click.echo("demo tenant ready; its API key:", err=True)
    click.echo(key)
