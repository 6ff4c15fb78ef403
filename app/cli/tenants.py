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
                   + (f"\tkey rotated {row['rotated_at']:%Y-%m-%d %H:%M}" if row["rotated_at"] else ""))


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
