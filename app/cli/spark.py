"""``slotbandit seed-priors``, ``export-events`` and ``backfill``: the PySpark jobs.

Spark runs ``local[*]`` unless SPARK_MASTER names a cluster. Each command shows a progress bar of
its stages on stderr and prints its report on stdout.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterator, Optional, Sequence

import click

from app.clock import MOMENT_HELP
from app.cli.common import CliError, connect, load_settings, window


@contextlib.contextmanager
def _stages(label: str, stages: Sequence[str]) -> Iterator:
    """A progress bar over named stages; yields the callback a job calls as each stage starts."""
    with click.progressbar(length=len(stages) - 1, label=label, file=sys.stderr,
                           item_show_func=lambda item: item, show_eta=False) as bar:
        started = []

        def step(name: str) -> None:
            """Mark the previous stage done (none before the first) and show ``name``."""
            bar.update(1 if started else 0, name)
            started.append(name)
        yield step


def _spark(verbose: bool):
    from app.jobs.spark import SparkUnavailable, spark_session

    try:
        return spark_session(verbose=verbose)
    except SparkUnavailable as error:
        raise CliError(str(error)) from None


def _verbose(command):
    return click.option("--verbose", is_flag=True,
                        help="Show Spark's own start-up and log lines (by default they go to a file in the "
                             "temporary directory, named in any error).")(command)


def _slots(db, tenant: Optional[str]):
    from app.jobs.log_frames import list_slots

    slots = list_slots(db, tenant)
    if not slots:
        raise CliError(f"no slots found{f' for tenant {tenant!r}' if tenant else ''}")
    return slots


def _cities(value: Optional[str]):
    if value is None:
        return None
    cities = tuple(sorted({" ".join(c.split()).lower() for c in value.split(",") if c.strip()}))
    if not cities:
        raise CliError("--cities must list at least one city, like pune,delhi")
    return cities


def _window(since: str, until: Optional[str]):
    from app.jobs.log_frames import EventLogError, hours_between

    start, end = window(since, until)
    try:
        hours_between(start, end)
    except EventLogError as error:
        raise CliError(str(error)) from None
    return start, end


@click.command("seed-priors")
@click.option("--history", required=True, metavar="PATH",
              help="CSV or Parquet of past impressions: aggregated rows (platform, slot_id, creative_id, city, "
                   "impressions, clicks[, day]) or one row per impression (... city, clicked[, ts, ...]).")
@click.option("--tenant", required=True, help="Tenant owning the slot.")
@click.option("--platform", required=True, help="Platform of the slot (rows of other platforms are skipped).")
@click.option("--slot", "slot_id", required=True, help="Slot to seed (rows of other slots are skipped).")
@click.option("--min-impressions", type=click.IntRange(0), default=1000, show_default=True,
              help="Cities with fewer usable impressions get no city prior; their rows count slot-wide.")
@click.option("--cities", default=None, metavar="A,B,C",
              help="Only these cities (rows of others are dropped); listed cities without history get the "
                   "pooled prior.")
@click.option("--max-strength", type=click.FloatRange(2.0, 1e6), default=50.0, show_default=True,
              help="Cap on alpha + beta of every prior (pseudo-impressions), so live data soon outweighs history.")
@click.option("--dry-run", is_flag=True, help="Fit and print the priors without writing them.")
@_verbose
def seed_priors(history: str, tenant: str, platform: str, slot_id: str, min_impressions: int,
                cities: Optional[str], max_strength: float, dry_run: bool, verbose: bool) -> None:
    """Seed a slot's Beta priors from historical data (PySpark, then Cassandra).

    Fits empirical-Bayes priors per creative slot-wide and per (city, creative): each city is
    shrunk toward the slot-wide rate with a strength fitted from the beta-binomial spread across
    cities (method of moments), every prior capped at --max-strength. Creatives without history
    get a click rate predicted by a logistic regression on (city, payload tags, day of week) at
    low strength. Bad rows (non-numeric, clicks > impressions, unknown creative, duplicate
    event_id) are counted and never used. Seeding again replaces the slot's priors: never adds.

    \b
      slotbandit seed-priors --history past.parquet --tenant acme --platform web \\
          --slot home-banner --min-impressions 500 --cities pune,delhi --dry-run
    """
    from app.jobs.history import HistoryError
    from app.jobs.seed import STEPS, SeedError, SeedRequest, check_seed, format_report, run_seed

    request = SeedRequest(history, tenant, platform, slot_id, min_impressions, _cities(cities), max_strength,
                          dry_run)
    db = connect(load_settings())
    try:
        slot = check_seed(db, request)
        spark = _spark(verbose)
        with _stages("seeding priors", STEPS) as step:
            result = run_seed(spark, db, request, slot, step=step)
    except (HistoryError, SeedError) as error:
        raise CliError(str(error)) from None
    finally:
        db.shutdown()
    click.echo(format_report(result, request))


@click.command("export-events")
@click.option("--since", required=True, help=f"Start of the window: {MOMENT_HELP}.")
@click.option("--until", default=None, help="End of the window, exclusive (default: now).")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--out", required=True, metavar="DIR", help="New (or empty) directory for the part files.")
@click.option("--tenant", default=None, help="Only this tenant's slots.")
@_verbose
def export_events_command(since: str, until: Optional[str], fmt: str, out: str, tenant: Optional[str],
                          verbose: bool) -> None:
    """Write the event log (impressions and clicks) of a window to Parquet or CSV files.

    Columns: tenant, platform, slot_id, event_time, event_id, kind, decision_id, creative_id, segment,
    city, customer_id, referrer, policy, propensity.

    \b
      slotbandit export-events --since 2026-11-01 --until 2026-11-08 --format parquet --out week45/
    """
    from app.jobs.log_frames import EventLogError
    from app.jobs.export import check_target, export_events

    start, end = _window(since, until)
    try:
        check_target(out)
    except EventLogError as error:
        raise CliError(str(error)) from None
    settings = load_settings()
    db = connect(settings)
    try:
        _slots(db, tenant)
        spark = _spark(verbose)
        click.echo(f"exporting events from {start.isoformat()} to {end.isoformat()} ...", err=True)
        count = export_events(spark, db, settings, start, end, fmt, out, tenant)
    except EventLogError as error:
        raise CliError(str(error)) from None
    finally:
        db.shutdown()
    click.echo(f"wrote {count} events to {out} ({fmt})")


@click.command("backfill")
@click.option("--since", required=True,
              help="Start of the event log to rebuild from (ISO date, date-time or an age like 30d). Must reach back to the slots' first "
                   "event: the counters are set to the log's totals from here on.")
@click.option("--until", default=None, help="End of the window, exclusive (default: now).")
@click.option("--tenant", default=None, help="Only this tenant's slots (default: every slot).")
@click.option("--dry-run", is_flag=True, help="Print what would change without writing.")
@_verbose
def backfill(since: str, until: Optional[str], tenant: Optional[str], dry_run: bool, verbose: bool) -> None:
    """Recompute the posterior counters from the event log and repair them (PySpark).

    Late clicks, replayed events and gaps while a worker was down leave the counters off the log;
    this sets every (slot, segment, creative) row to what the log says, adding the difference.
    Duplicate event ids count once. Running it again changes nothing.

    \b
      slotbandit backfill --since 2026-11-01 --tenant acme --dry-run
    """
    from app.jobs.backfill import STEPS, format_report, run_backfill

    start, end = _window(since, until)
    settings = load_settings()
    db = connect(settings)
    try:
        slots = _slots(db, tenant)
        spark = _spark(verbose)
        with _stages("backfilling", STEPS) as step:
            result = run_backfill(spark, db, settings, start, end, slots, dry_run, step=step)
    finally:
        db.shutdown()
    click.echo(format_report(result, dry_run))
