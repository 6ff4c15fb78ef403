"""``slotbandit tenant``: tenants and their API keys."""
from __future__ import annotations

import click

from app.cli.common import CliError, connect, load_settings


@click.group()
def tenant() -> None:
    """Tenants and their API keys (stored hashed; a key is shown once)."""


def _tenants():
    from app.storage import TenantStore

    return TenantStore(connect(load_settings()))


def tenant_action(action):
    from app.storage import TenantError

    try:
        return action()
    except TenantError as error:
        raise CliError(str(error)) from None


@tenant.command("create")
@click.argument("name")
def tenant_create(name: str) -> None:
    """Create tenant NAME; the new API key is the last line of output."""
    key = tenant_action(lambda: _tenants().create(name))
    click.echo(f"created tenant {name}; its API key (shown once):", err=True)
    click.echo(key)


@tenant.command("list")
def tenant_list() -> None:
    """List tenants with their creation and last key rotation times."""
    for row in _tenants().list():
        click.echo(f"{row['name']}\tcreated {row['created_at']:%Y-%m-%d %H:%M}"
                   + (f"\tkey rotated {row['rotated_at']:%Y-%m-%d %H:%M}" if row["rotated_at"] else "")
                   + f"\t{describe_limit(row['rate_rps'], row['rate_burst'])}")


def describe_limit(rps, burst) -> str:
    if rps is None:
        return "rate limit: default (SLOTBANDIT_DEFAULT_RPS)"
    if rps <= 0:
        return "rate limit: none"
    return f"rate limit: {rps:g}/s, bursts of {burst if burst else max(1.0, rps):g}"


@tenant.command("limit")
@click.argument("name")
@click.option("--rps", type=click.FloatRange(min=0, max=1_000_000), required=True,
              help="Requests a second the tenant may send to one service instance; 0 = unlimited.")
@click.option("--burst", type=click.FloatRange(min=1, max=10_000_000), default=None,
              help="Requests at once after a quiet moment [default: one second's worth, at least 1].")
def tenant_limit(name: str, rps: float, burst) -> None:
    """Limit NAME to RPS requests a second per service instance (applied within 5 s)."""
    tenant_action(lambda: _tenants().set_limit(name, rps, burst if rps > 0 else None))
    click.echo(f"tenant {name}: {describe_limit(rps, burst)} per service instance (applies within 5 s)")


@tenant.command("rotate-key")
@click.argument("name")
def tenant_rotate_key(name: str) -> None:
    """Give NAME a new key (last line of output); the old key stops working within seconds."""
    key = tenant_action(lambda: _tenants().rotate_key(name))
    click.echo(f"new API key for {name} (shown once; the old key is revoked):", err=True)
    click.echo(key)


@tenant.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def tenant_delete(name: str, yes: bool) -> None:
    """Delete NAME, its key, slots and creatives (counts and event log are kept as history)."""
    if not yes:
        click.confirm(f"Delete tenant {name} and all its slots?", abort=True)
    removed = tenant_action(lambda: _tenants().delete(name))
    click.echo(f"deleted tenant {name} ({removed} slots)")
