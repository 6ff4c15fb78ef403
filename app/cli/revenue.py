"""``slotbandit attribute``: recompute the revenue labels of the customers who clicked in a period.

The service keeps labels current by itself (app/service/attribution.py). This command is the repair: after
an outage, a restored backup, or a slot switched to the revenue objective, it recomputes the labels
of every customer who clicked a revenue slot's decisions between --since and --until and writes what
changed. Running it again changes nothing.
"""
from __future__ import annotations

import sys
from datetime import datetime
from typing import List, Optional, Set, Tuple

import click

from app.cli.common import CliError, connect, load_settings, window


@click.command("attribute")
@click.option("--tenant", required=True, help="Tenant whose revenue slots are relabelled.")
@click.option("--since", required=True, metavar="TIME",
              help="Start of the period of clicks (2026-11-01, 2026-11-01T06:00Z or an age like 7d).")
@click.option("--until", default=None, metavar="TIME", help="End of the period (default: now).")
@click.option("--platform", default=None, help="Only slots of this platform.")
@click.option("--slot", "slot_id", default=None, help="Only this slot (needs --platform).")
@click.option("--customer", "customers", multiple=True, metavar="ID",
              help="Relabel only these customers (repeatable) instead of reading the clicks of the period.")
def attribute_command(tenant: str, since: str, until: Optional[str], platform: Optional[str],
                      slot_id: Optional[str], customers: Tuple[str, ...]) -> None:
    """Recompute the revenue labels of customers who clicked revenue decisions in a period.

    \b
    Example:
      slotbandit attribute --tenant acme --since 2026-11-01
      slotbandit attribute --tenant acme --since 2026-11-20 --platform android --slot shop --customer u-7

    Prints how many customers were read and how many decision labels changed.
    """
    from app.service.attribution import relabel
    from app.storage import CatalogStore
    from app.storage.history import HistoryStore

    if slot_id and not platform:
        raise CliError("--slot needs --platform")
    start, end = window(since, until)
    db = connect(load_settings())
    try:
        catalog = CatalogStore(db)
        slots = _revenue_slots(db, tenant, platform, slot_id)
        if not slots:
            raise CliError(f"tenant {tenant!r} has no slot with objective 'revenue'"
                           + (f" on platform {platform!r}" if platform else ""))
        found = set(customers) or _clicking_customers(HistoryStore(db), tenant, slots, start, end)
        changed = 0
        with click.progressbar(sorted(found), label="relabelling customers", file=sys.stderr) as bar:
            for customer_id in bar:
                changed += relabel(db, catalog.load_slot, tenant, customer_id)
        click.echo(f"customers: {len(found)}  labels changed: {changed}")
    finally:
        db.shutdown()


def _revenue_slots(db, tenant: str, platform: Optional[str], slot_id: Optional[str]) -> List[Tuple[str, str]]:
    """(platform, slot_id) of the tenant's revenue slots matching the filters."""
    from app.storage import CatalogStore

    objectives = CatalogStore(db).objectives(tenant, platform)
    return sorted(key for key, objective in objectives.items()
                  if objective == "revenue" and slot_id in (None, key[1]))


def _clicking_customers(history, tenant: str, slots: List[Tuple[str, str]], start: datetime,
                        end: datetime) -> Set[str]:
    """Customers of the click events of these slots in [start, end)."""
    found: Set[str] = set()
    with click.progressbar(slots, label="reading clicks", file=sys.stderr) as bar:
        for platform, slot_id in bar:
            found.update(event.customer_id for event in history.events(tenant, platform, slot_id, start, end)
                         if event.kind == "click" and event.customer_id)
    return found
