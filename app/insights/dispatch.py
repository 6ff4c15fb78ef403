"""A report that reaches people: build it, write its files, find its alerts, send its summary.

``slotbandit report --webhook/--email`` and the scheduler both go through ``send_report``. The report's
files are written first and kept whatever happens to the delivery.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from app.insights.alerts import WEEK, ctr_drops, decision_failures, weekly_counts
from app.insights.delivery import DeliveryError, Mail, post_webhook, send_mail
from app.insights.message import mail_subject, summary_lines, webhook_payload
from app.insights.report_data import SlotReport, build_report
from app.insights.report_files import write_report
from app.settings import DeliverySettings
from app.storage.history import HistoryStore


@dataclass(frozen=True)
class Destinations:
    """Where the summary goes: an incoming-webhook URL and/or e-mail addresses; report_url is the link the
    message gives to the full report (default: the path of report.html)."""

    webhook: Optional[str] = None
    emails: Tuple[str, ...] = ()
    report_url: Optional[str] = None

    @property
    def any(self) -> bool:
        return bool(self.webhook or self.emails)


@dataclass
class Sent:
    files: List[Path]
    alerts: List[str]
    delivered: List[str] = field(default_factory=list)  # 'webhook', 'email'
    errors: List[str] = field(default_factory=list)  # one line per failed delivery, without secrets


def report_alerts(rt, report: SlotReport, extra: Sequence[str] = ()) -> List[str]:
    """Alerts of the report: decisions that fail, creatives whose click-through halved week over week."""
    end = report.period.end
    events = HistoryStore(rt.db).events(report.tenant, report.platform, report.slot.slot_id, end - 2 * WEEK, end)
    cities = [c for c in report.period.by_city if c != "(none)"]
    return decision_failures(report.slot, cities) + ctr_drops(*weekly_counts(events, end)) + list(extra)


def send_report(rt, tenant: str, platform: str, slot_id: str, start: datetime, end: datetime, out_dir: Path,
                destinations: Destinations, settings: DeliverySettings, extra_alerts: Sequence[str] = (),
                progress: Callable[[str], None] = lambda message: None,
                sleep: Callable[[float], None] = time.sleep, bucket: str = "auto",
                hours_read: Optional[Callable[[int, int], None]] = None) -> Sent:
    """Build and write the report of [start, end) into out_dir, then deliver its summary.

    Raises ``app.errors.NotFound`` for an unknown slot and OSError when the files cannot be written;
    failed deliveries are in ``Sent.errors`` (each already retried).
    """
    report = build_report(rt, tenant, platform, slot_id, start, end, bucket, progress, hours_read)
    progress("drawing figures")
    files = write_report(report, out_dir)
    sent = Sent(files=files, alerts=report_alerts(rt, report, extra_alerts) if destinations.any else [])
    link = destinations.report_url or str(files[0].resolve())

    def retrying(attempt: int, reason: str) -> None:
        progress(f"delivery attempt {attempt} failed ({reason}); trying again")

    if destinations.webhook:
        try:
            post_webhook(destinations.webhook, webhook_payload(report, link, sent.alerts), settings, sleep, retrying)
            sent.delivered.append("webhook")
        except DeliveryError as error:
            sent.errors.append(str(error))
    if destinations.emails:
        text = "\n".join(summary_lines(report, sent.alerts) + [f"Full report: {link} (attached)"])
        mail = Mail(to=tuple(destinations.emails), subject=mail_subject(report, sent.alerts), text=text,
                    attachments=(files[0],))
        try:
            send_mail(mail, settings, sleep, retrying)
            sent.delivered.append("email")
        except DeliveryError as error:
            sent.errors.append(str(error))
    return sent
