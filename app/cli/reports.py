"""``slotbandit report-schedule add|list|remove`` and ``slotbandit scheduler``: reports that arrive by themselves."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import click

from app.cli.common import CliError, connect, load_settings
from app.cli.insights import PLATFORM, SLOT, TENANT, Readers, destinations_from, guarded

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _readers_of(db) -> Readers:
    import numpy as np

    from app.storage import CatalogStore, CountsStore
    from bandit import ThompsonConfig, ThompsonPolicy
    from bandit.policies.revenue import RevenueConfig, RevenuePolicy

    rng = np.random.default_rng(0)
    return Readers(db, CatalogStore(db), CountsStore(db), ThompsonPolicy(ThompsonConfig(), rng),
                   RevenuePolicy(RevenueConfig(), rng))


def _connect_for(tenant: str):
    from app.storage import TenantStore

    db = connect(load_settings())
    if not guarded(lambda: TenantStore(db).exists(tenant)):
        raise CliError(f"unknown tenant {tenant!r} (see `slotbandit tenant list`)")
    return db


@click.group("report-schedule")
def report_schedule() -> None:
    """Reports sent on a schedule by `slotbandit scheduler` (stored in Cassandra)."""


@report_schedule.command("add")
@TENANT
@SLOT
@PLATFORM
@click.option("--cadence", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True)
@click.option("--hour", type=click.IntRange(0, 23), default=7, show_default=True,
              help="Local hour of the run in the slot's time zone (UTC while slots have none).")
@click.option("--weekday", type=click.Choice(WEEKDAYS), default="mon", show_default=True, help="Weekly: the day.")
@click.option("--webhook", default=None, metavar="URL", help="Slack-compatible incoming webhook.")
@click.option("--email", default=None, metavar="ADDR[,ADDR]", help="Recipients of the summary and report.html.")
@click.option("--id", "schedule_id", default=None, help="Name of the schedule (default: generated).")
def add(tenant: str, slot_id: str, platform: str, cadence: str, hour: int, weekday: str, webhook: Optional[str],
        email: Optional[str], schedule_id: Optional[str]) -> None:
    """Add a schedule: the report of the last day (or week) sent at HOUR:00. Prints the schedule id last.

    \b
    Example:
      slotbandit report-schedule add --tenant demo --slot home-banner --cadence daily --hour 7 \\
          --webhook https://hooks.slack.com/services/... --email ops@example.com
    """
    from app.storage.report_schedules import ReportScheduleStore, Schedule

    if not webhook and not email:
        raise CliError("a schedule needs --webhook and/or --email")
    destinations, _ = destinations_from(webhook, email, None)
    schedule_id = schedule_id or f"{slot_id}-{cadence}-{secrets.token_hex(3)}"
    if not schedule_id or len(schedule_id) > 100:
        raise CliError("--id must be 1 to 100 characters")
    db = _connect_for(tenant)
    from app.storage import CatalogStore

    if guarded(lambda: CatalogStore(db).load_slot(tenant, platform, slot_id)) is None:
        raise CliError(f"unknown slot {slot_id!r} on platform {platform!r} of tenant {tenant!r}")
    schedule = Schedule(tenant, schedule_id, platform, slot_id, cadence, hour,
                        WEEKDAYS.index(weekday) if cadence == "weekly" else None, destinations.webhook,
                        destinations.emails, datetime.now(timezone.utc))
    if not guarded(lambda: ReportScheduleStore(db).add(schedule)):
        raise CliError(f"tenant {tenant!r} already has a schedule {schedule_id!r}")
    click.echo(f"schedule added: {_describe(schedule)}", err=True)
    click.echo(schedule_id)


@report_schedule.command("list")
@TENANT
def list_schedules(tenant: str) -> None:
    """The tenant's schedules, one line each (webhook URLs shown by host only)."""
    from app.storage.report_schedules import ReportScheduleStore

    db = _connect_for(tenant)
    schedules = guarded(lambda: ReportScheduleStore(db).list(tenant))
    for schedule in schedules:
        click.echo(f"{schedule.schedule_id}  {_describe(schedule)}")
    if not schedules:
        click.echo("no schedules", err=True)


@report_schedule.command("remove")
@TENANT
@click.argument("schedule_id")
def remove(tenant: str, schedule_id: str) -> None:
    """Remove a schedule (and the record of its runs)."""
    from app.storage.report_schedules import ReportScheduleStore

    db = _connect_for(tenant)
    if not guarded(lambda: ReportScheduleStore(db).remove(tenant, schedule_id)):
        raise CliError(f"tenant {tenant!r} has no schedule {schedule_id!r}")
    click.echo(f"schedule {schedule_id} removed", err=True)


def _describe(schedule) -> str:
    from app.insights.delivery import mask_url

    when = f"daily at {schedule.local_hour:02d}:00" if schedule.cadence == "daily" else \
        f"weekly on {WEEKDAYS[schedule.weekday or 0]} at {schedule.local_hour:02d}:00"
    to = [f"webhook {mask_url(schedule.webhook)}"] if schedule.webhook else []
    to += [f"email {', '.join(schedule.emails)}"] if schedule.emails else []
    return f"{schedule.platform}/{schedule.slot_id} {when} (slot's zone) to {' and '.join(to)}"


@click.command("scheduler")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Reports are written to OUT/<tenant>/<platform>/<slot>/<due time>/.")
@click.option("--interval", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Seconds between passes over the schedules.")
@click.option("--once", is_flag=True, help="One pass, then exit (e.g. from cron).")
def scheduler(out_dir: Path, interval: float, once: bool) -> None:
    """Send every scheduled report when it is due, exactly once even with several schedulers running.

    Each run is leased with a lightweight transaction; after downtime the latest due run of each
    schedule is sent once (missed earlier runs are not). A failed delivery is retried with
    back-off, logged in one line, and named in the schedule's next message. Stop with Ctrl-C or SIGTERM.
    """
    from app.insights.scheduler import Scheduler
    from app.settings import DeliverySettings, SettingsError
    from app.storage.report_schedules import ReportScheduleStore

    try:
        delivery = DeliverySettings.from_env()
    except SettingsError as error:
        raise CliError(str(error)) from None
    db = connect(load_settings())
    owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    runner = Scheduler(ReportScheduleStore(db), _sender(_readers_of(db), out_dir, delivery), _zone_of(db), owner)

    def show(results) -> None:
        for result in results:
            s = result.schedule
            outcome = "sent" if result.error is None else f"failed: {result.error}"
            click.echo(f"{result.due_at:%Y-%m-%d %H:%M} {s.tenant}/{s.schedule_id}: {outcome}", err=True)

    if once:
        show(guarded(lambda: runner.run_once(datetime.now(timezone.utc))))
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"scheduler {owner} running; a pass every {interval:g} s", err=True)
    try:
        runner.run_forever(interval, stop, lambda: datetime.now(timezone.utc), show)
    except KeyboardInterrupt:
        pass


def _zone_of(db):
    from app.service.slot_zone import slot_zone
    from app.storage import CatalogStore

    catalog = CatalogStore(db)
    return lambda schedule: slot_zone(catalog.load_slot(schedule.tenant, schedule.platform, schedule.slot_id))


def _sender(readers: Readers, out_dir: Path, delivery):
    from app.insights.alerts import failed_delivery
    from app.insights.dispatch import Destinations, send_report
    from app.insights.scheduler import period_of

    def send(schedule, due_at, previous) -> Optional[str]:
        start, end = period_of(schedule, due_at)
        where = out_dir / schedule.tenant / schedule.platform / schedule.slot_id / due_at.strftime("%Y-%m-%dT%H%MZ")
        extra = failed_delivery(previous.error, previous.due_at) if previous else []
        sent = send_report(readers, schedule.tenant, schedule.platform, schedule.slot_id, start, end, where,
                           Destinations(schedule.webhook, schedule.emails), delivery, extra)
        return "; ".join(sent.errors) or None
    return send
