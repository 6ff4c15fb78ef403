"""``slotbandit prune-buckets``: delete the time buckets of half-life slots that nothing reads or writes.

Each service process already does this for the slots it serves, once an hour
(app/service/bucket_pruner.py); this command does it now for every slot of the keyspace or one
tenant's, e.g. for slots no process serves any more.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Optional

import click

from app.cli.common import connect, load_settings


@click.command("prune-buckets")
@click.option("--tenant", default=None, help="Only this tenant's slots (default: every slot).")
def prune_buckets(tenant: Optional[str]) -> None:
    """Delete the time buckets older than what half-life slots keep (app/storage/bucket_retention.py).

    \b
      slotbandit prune-buckets --tenant acme
    """
    from app.storage import CatalogStore
    from app.storage.bucket_retention import prune_slots

    db = connect(load_settings())
    try:
        catalog = CatalogStore(db)
        slots = [catalog.load_slot(*key) for key in catalog.list_slots(tenant)]
        done = prune_slots(db, [s for s in slots if s is not None], time.time())
    finally:
        db.shutdown()
    for slot, first, pruned in done:
        kept = datetime.fromtimestamp(first, timezone.utc).isoformat().replace("+00:00", "Z")
        click.echo(f"{slot.tenant}/{slot.platform}/{slot.slot_id}: kept from {kept}; deleted {pruned.counter_buckets} "
                   f"counter buckets, {pruned.stream_rows} stream rows, {pruned.revenue_rows} revenue rows")
    click.echo(f"{len(done)} slots with a half-life, {sum(p.total for _, _, p in done)} buckets and rows deleted")
