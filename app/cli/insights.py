"""``slotbandit report`` and ``slotbandit export-segments``: what a slot did and learned, as files."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Optional

import click

from app.clock import MOMENT_HELP
from app.cli.common import CliError, connect, load_settings, window

MAX_PERIOD = timedelta(days=400)


def _period(since: str, until: Optional[str]) -> tuple:
    start, end = window(since, until)
    if end - start > MAX_PERIOD:
        raise CliError(f"the period is longer than {MAX_PERIOD.days} days: pass a later --since")
    return start, end


@dataclass
class Readers:
    """What the insight functions read through: storage handles and the decision policy's settings."""

    db: Any
    catalog: Any
    counts: Any
    policy: Any
    revenue_policy: Any

    def stored_snapshot(self, tenant: str, platform: str, slot_id: str):
        """As Runtime.stored_snapshot: counts, seeded priors and revenue totals read from storage now."""
        from app.service.runtime import read_snapshot

        return read_snapshot(self.db, tenant, platform, slot_id)


def _readers(tenant: str) -> Readers:
    import numpy as np

    from app.storage import CatalogStore, CountsStore, TenantStore
    from bandit import ThompsonConfig, ThompsonPolicy
    from bandit.policies.revenue import RevenueConfig, RevenuePolicy

    db = connect(load_settings())
    if not TenantStore(db).exists(tenant):
        raise CliError(f"unknown tenant {tenant!r} (see `slotbandit tenant list`)")
    rng = np.random.default_rng(0)
    return Readers(db, CatalogStore(db), CountsStore(db), ThompsonPolicy(ThompsonConfig(), rng),
                   RevenuePolicy(RevenueConfig(), rng))


def _run(action: Callable[[], Any]) -> Any:
    """Run action; unknown slots and storage trouble become one line."""
    from app.storage.db import DRIVER_ERRORS, one_line
    from app.errors import ApiError

    try:
        return action()
    except ApiError as error:
        raise CliError(error.message) from None
    except DRIVER_ERRORS as error:
        raise CliError(f"reading from Cassandra failed: {one_line(error)}") from None


def _progress(message: str) -> None:
    click.echo(f"  {message}", err=True)


def _throttled(every_s: float = 2.0) -> Callable[[int, int], None]:
    """A progress callback for hours read that speaks at most every ``every_s`` seconds, and at the end."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        if done == total or time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            _progress(f"event log: {done}/{total} hours read")
    return report


TENANT = click.option("--tenant", required=True, help="Tenant name (as given to `slotbandit tenant create`).")
SLOT = click.option("--slot", "slot_id", required=True, help="Slot id, e.g. home-banner.")
PLATFORM = click.option("--platform", default="web", show_default=True, help="Platform of the slot.")
UNTIL = click.option("--until", default=None, help=f"End of the period (default now): {MOMENT_HELP}.")


@click.command("report")
@TENANT
@SLOT
@PLATFORM
@click.option("--since", required=True, help=f"Start of the period: {MOMENT_HELP}.")
@UNTIL
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("report"),
              show_default=True, help="Directory for report.html and the CSV files (created when missing).")
@click.option("--bucket", type=click.Choice(["auto", "hour", "day"]), default="auto", show_default=True,
              help="Time step of the plots and traffic.csv; auto = hours up to 3 days, days beyond.")
def report(tenant: str, slot_id: str, platform: str, since: str, until: Optional[str], out_dir: Path,
           bucket: str) -> None:
    """Write an HTML report of one slot with CSV files of the same numbers.

    \b
    report.html      traffic share and click-through per creative over the period,
                     posterior means with 95% credible intervals and P(best) (all data to date,
                     as GET /slot/<id>/stats), a per-city table, and the lift over the holdout
                     group (to date and in the period; "no holdout data" while there is none).
                     One self-contained file: the figures are embedded.
    traffic.csv      bucket_start, creative_id, impressions, clicks, share, ctr
    posteriors.csv   segment, decided_by, creative_id, impressions, clicks, alpha, beta, mean,
                     ci95_low, ci95_high, p_best, eligible
    cities.csv       city, period impressions/clicks/ctr, best creative by posterior mean
    lift.csv         scope (to_date | period), bandit and holdout counts, lift and interval

    \b
    Examples:
      slotbandit report --tenant demo --slot home-banner --since 7d --out reports/home
      slotbandit report --tenant demo --slot home-banner --since 2026-11-01 --until 2026-11-08
    For a daily report, run it from cron, e.g.  5 0 * * *  slotbandit report ... --since 1d --out ...
    """
    from app.insights.plots import PlottingUnavailable, require_matplotlib
    from app.insights.report_data import build_report
    from app.insights.report_files import write_report

    start, end = _period(since, until)
    try:
        require_matplotlib()
    except PlottingUnavailable as error:
        raise CliError(str(error)) from None
    readers = _readers(tenant)
    if _run(lambda: readers.catalog.load_slot(tenant, platform, slot_id)) is None:
        raise CliError(f"unknown slot {slot_id!r} on platform {platform!r} of tenant {tenant!r}")
    click.echo(f"report of {tenant}/{platform}/{slot_id} from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
               err=True)
    data = _run(lambda: build_report(readers, tenant, platform, slot_id, start, end, bucket, _progress,
                                     hours_read=_throttled()))
    _progress("drawing figures")
    try:
        written = write_report(data, out_dir)
    except PlottingUnavailable as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"cannot write to {out_dir}: {error.strerror or error}") from None
    for path in written:
        click.echo(str(path))


@click.command("export-segments")
@TENANT
@SLOT
@PLATFORM
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="CSV file to write ('-' for standard output).")
@click.option("--rank-by", type=click.Choice(["mean", "p_best"]), default="mean", show_default=True,
              help="mean: highest posterior mean click rate (the best single choice in expectation); "
                   "p_best: highest probability of being the best creative.")
@click.option("--customers", is_flag=True, help="One row per customer seen in the period instead of per segment.")
@click.option("--since", default=None, help=f"With --customers: start of the period, {MOMENT_HELP}.")
@UNTIL
def export_segments(tenant: str, slot_id: str, platform: str, out_file: str, rank_by: str, customers: bool,
                    since: Optional[str], until: Optional[str]) -> None:
    """Export the best creative per segment, or per customer, as CSV for campaign tools.

    \b
    Per segment (default): one row per segment the slot has counts for (global, city:<c>,
    segment:<s>): segment, decided_by, creative_id, rank_by, mean, ci95_low, ci95_high, p_best,
    impressions, clicks. Only creatives eligible there (active, allowed in the city) are ranked;
    decided_by is 'global' where the segment has no data of its own yet.
    Per customer (--customers --since D): one row per customer_id with an impression in the
    period: customer_id, last_seen, city, segment, decided_by, creative_id, rank_by, mean,
    ci95_low, ci95_high, p_best. The context is the customer's latest impression: its named
    segment when one decided it, else its city.

    \b
    Examples:
      slotbandit export-segments --tenant demo --slot home-banner --out best.csv
      slotbandit export-segments --tenant demo --slot home-banner --customers --since 30d --out customers.csv
    """
    from app.insights.segments import best_per_customer, best_per_segment, write_customers, write_segments

    if customers and not since:
        raise CliError("--customers needs --since (the period whose customers are exported)")
    if (since or until) and not customers:
        raise CliError("--since and --until go with --customers")
    period = _period(since, until) if customers else None
    readers = _readers(tenant)
    if customers:
        rows = _run(lambda: list(best_per_customer(readers, tenant, platform, slot_id, *period, rank_by,
                                                   progress=_throttled())))
    else:
        rows = _run(lambda: list(best_per_segment(readers, tenant, platform, slot_id, rank_by)))
    try:
        with click.open_file(out_file, "w", encoding="utf-8", lazy=False) as out:
            count = (write_customers if customers else write_segments)(rows, rank_by, out)
    except OSError as error:
        raise CliError(f"cannot write {out_file}: {error.strerror or error}") from None
    where = "standard output" if out_file == "-" else out_file
    click.echo(f"{count} {'customers' if customers else 'segments'} written to {where} (ranked by {rank_by})",
               err=True)
