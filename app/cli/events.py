"""``slotbandit ingest-events``: load a file of game or shop events (history) for a tenant."""
from __future__ import annotations

import sys
import time

import click

from app.cli.common import CliError, connect, load_settings


@click.command("ingest-events")
@click.argument("path", metavar="FILE")
@click.option("--tenant", required=True, help="Tenant the events belong to.")
@click.option("--format", "file_format", type=click.Choice(["auto", "ndjson", "csv", "parquet"]), default="auto",
              show_default=True, help="File format (auto: from the extension .ndjson/.jsonl/.json, .csv, .parquet).")
def ingest_events(path: str, tenant: str, file_format: str) -> None:
    """Load events from FILE as POST /events would store them: same checks, same features.

    \b
    Each row is one event in the contract's shape (event_id, event, customer_id, ...) or the raw
    game shape (the event's name in event_id, customer_identifier, values as strings). Rows that
    cannot be read are refused and counted per reason; the others are stored once: a second run of
    the same file stores nothing and counts every row as a duplicate.

    \b
    Example:
      slotbandit ingest-events history.ndjson --tenant acme
      slotbandit ingest-events export.csv --tenant acme
    """
    from app.decision_ids import DecisionSigner
    from app.service.bulk_events import ChunkLoader, load_events
    from app.service.event_files import EventFileError, open_event_file
    from app.storage.tenants import TenantStore

    try:
        events_file = open_event_file(path, file_format)
    except EventFileError as error:
        raise CliError(str(error)) from None
    settings = load_settings()
    signer = DecisionSigner(settings.secret) if settings.secret else None

    def decision_ok(decision_id: str) -> bool:
        token = signer.verify(decision_id) if signer else None
        return token is not None and token.tenant == tenant

    db = connect(settings)
    try:
        if not TenantStore(db).exists(tenant):
            raise CliError(f"no tenant {tenant!r}: create it with `slotbandit tenant create {tenant}`")
        started = time.perf_counter()
        with click.progressbar(length=events_file.size, label=f"loading {events_file.format}",
                               file=sys.stderr, show_pos=events_file.format == "parquet") as bar:
            summary = load_events(ChunkLoader(db, tenant, decision_ok), events_file, bar.update)
        seconds = time.perf_counter() - started
    except EventFileError as error:  # found after the first row: the chunks before it are stored
        raise CliError(f"{error}; fix it and run again (what is loaded stays loaded)") from None
    finally:
        db.shutdown()
    for line in summary.lines():
        click.echo(line)
    rate = summary.rows / seconds if seconds > 0 else 0.0
    click.echo(f"loaded in {seconds:.1f} s ({rate:,.0f} rows/s); revenue labels changed: {summary.labels_changed}")
