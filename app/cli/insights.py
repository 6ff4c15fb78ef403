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


def _period(since: str, until: Optional[str], zone=None) -> tuple:
    """The period of --since/--until, dates read in ``zone`` (the slot's; UTC to check the syntax
    before the slot is read), or one line."""
    start, end = window(since, until, zone=zone) if zone is not None else window(since, until)
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

    def stored_snapshot(self, tenant: str, platform: str, slot_id: str, half_life_s: Optional[int] = None):
        """As Runtime.stored_snapshot: counts, seeded priors and revenue totals read from storage now."""
        from app.service.runtime import read_snapshot

        return read_snapshot(self.db, tenant, platform, slot_id, half_life_s=half_life_s)


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


def guarded(action: Callable[[], Any]) -> Any:
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
@click.option("--webhook", default=None, metavar="URL",
              help="Post a summary to this Slack-compatible incoming webhook (never printed).")
@click.option("--email", default=None, metavar="ADDR[,ADDR]",
              help="Mail the summary with report.html attached (SMTP_HOST, SMTP_PORT, SMTP_USERNAME, "
                   "SMTP_PASSWORD, SMTP_STARTTLS, REPORT_FROM).")
@click.option("--report-url", default=None, metavar="URL",
              help="Link to the full report in the message (default: the path of report.html).")
def report(tenant: str, slot_id: str, platform: str, since: str, until: Optional[str], out_dir: Path,
           bucket: str, webhook: Optional[str], email: Optional[str], report_url: Optional[str]) -> None:
    """Write an HTML report of one slot with CSV files of the same numbers; optionally send its summary.

    \b
    report.html      traffic share and click-through per creative over the period, saved
                     traffic (headline and per day), posterior means with 95% credible intervals
                     and P(best) (all data to date, as GET /slot/<id>/stats), a per-city table,
                     and the lift over the holdout group (to date and in the period).
                     One self-contained file: the figures are embedded.
    traffic.csv      bucket_start, creative_id, impressions, clicks, share, ctr
    posteriors.csv   segment, decided_by, creative_id, impressions, clicks, alpha, beta, mean,
                     ci95_low, ci95_high, p_best, eligible
    cities.csv       city, period impressions/clicks/ctr, best creative by posterior mean
    lift.csv         scope (to_date | period), bandit and holdout counts, lift and interval
    savings.csv      per day and in total: impressions, given to non-performers, what a uniform
                     split would have given them, saved share, gain over uniform and interval

    \b
    With --webhook and/or --email the summary (slot, period, clicks and click-through against the
    holdout or a uniform split, saved share, leading creative, alerts, link to the report) is sent
    after the files are written; a failed delivery is retried with back-off, then reported in one
    line (exit status 1). The files are kept either way.

    \b
    Examples:
      slotbandit report --tenant demo --slot home-banner --since 7d --out reports/home
      slotbandit report --tenant demo --slot home-banner --since 1d --webhook https://hooks.slack.com/...
      slotbandit report --tenant demo --slot home-banner --since 1d --email ops@example.com
    For reports on a schedule, see `slotbandit report-schedule` and `slotbandit scheduler`.
    """
    from app.insights.dispatch import send_report
    from app.insights.plots import PlottingUnavailable, require_matplotlib
    from app.service.slot_zone import zone_label

    start, end = _period(since, until)
    destinations, delivery = destinations_from(webhook, email, report_url)
    try:
        require_matplotlib()
    except PlottingUnavailable as error:
        raise CliError(str(error)) from None
    readers = _readers(tenant)
    slot = guarded(lambda: readers.catalog.load_slot(tenant, platform, slot_id))
    if slot is None:
        raise CliError(f"unknown slot {slot_id!r} on platform {platform!r} of tenant {tenant!r}")
    start, end = _period(since, until, slot.zone)  # dates are midnights of the slot's zone
    zone = zone_label(slot.zone)
    click.echo(f"report of {tenant}/{platform}/{slot_id} from {start.astimezone(slot.zone):%Y-%m-%d %H:%M} to "
               f"{end.astimezone(slot.zone):%Y-%m-%d %H:%M} {zone}", err=True)
    try:
        sent = guarded(lambda: send_report(readers, tenant, platform, slot_id, start, end, out_dir, destinations,
                                        delivery, progress=_progress, bucket=bucket, hours_read=_throttled()))
    except PlottingUnavailable as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"cannot write to {out_dir}: {error.strerror or error}") from None
    for path in sent.files:
        click.echo(str(path))
    for channel in sent.delivered:
        _progress(f"summary delivered by {channel}")
    if sent.errors:
        raise CliError("; ".join(sent.errors) + f" (the report files are kept in {out_dir})")


def destinations_from(webhook: Optional[str], email: Optional[str], report_url: Optional[str]):
    """(Destinations, DeliverySettings) from the options and the environment, or one line."""
    from app.insights.delivery import check_addresses, check_webhook_url
    from app.insights.dispatch import Destinations
    from app.settings import DeliverySettings, SettingsError

    try:
        delivery = DeliverySettings.from_env()
        hook = check_webhook_url(webhook) if webhook is not None else None
        emails = tuple(check_addresses(email)) if email is not None else ()
    except (SettingsError, ValueError) as error:
        raise CliError(str(error)) from None
    if emails and not delivery.smtp_host:
        raise CliError("--email needs an SMTP server: set SMTP_HOST (and SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, "
                       "SMTP_STARTTLS as needed)")
    return Destinations(webhook=hook, emails=emails, report_url=report_url), delivery


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
    impressions, clicks. Only creatives eligible there now (active, allowed in the city, inside
    their flight and hours, as the stats mark them) are ranked;
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
        slot = guarded(lambda: readers.catalog.load_slot(tenant, platform, slot_id))
        if slot is not None:  # dates are midnights of the slot's zone (an unknown slot fails below)
            period = _period(since, until, slot.zone)
        rows = guarded(lambda: list(best_per_customer(readers, tenant, platform, slot_id, *period, rank_by,
                                                   progress=_throttled())))
    else:
        rows = guarded(lambda: list(best_per_segment(readers, tenant, platform, slot_id, rank_by)))
    try:
        with click.open_file(out_file, "w", encoding="utf-8", lazy=False) as out:
            count = (write_customers if customers else write_segments)(rows, rank_by, out)
    except OSError as error:
        raise CliError(f"cannot write {out_file}: {error.strerror or error}") from None
    where = "standard output" if out_file == "-" else out_file
    click.echo(f"{count} {'customers' if customers else 'segments'} written to {where} (ranked by {rank_by})",
               err=True)
