"""Report schedules and the lease of each due run (tables ``report_schedules``, ``report_runs``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import List, Optional, Tuple

from app.storage.db import Database

CADENCES = ("daily", "weekly")
SELECT_SCHEDULE = ("SELECT tenant, schedule_id, platform, slot_id, cadence, local_hour, weekday, webhook, emails, "
                   "created_at FROM report_schedules")


@dataclass(frozen=True)
class Schedule:
    tenant: str
    schedule_id: str
    platform: str
    slot_id: str
    cadence: str  # daily | weekly
    local_hour: int
    weekday: Optional[int]  # weekly: 0 = Monday
    webhook: Optional[str]
    emails: Tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class Run:
    due_at: datetime
    owner: Optional[str]
    lease_until: Optional[datetime]
    status: Optional[str]
    error: Optional[str]


class ReportScheduleStore:
    def __init__(self, db: Database):
        self.db = db

    def add(self, schedule: Schedule) -> bool:
        """Store a new schedule; False when the tenant already has one with that id."""
        row = self.db.execute(
            "INSERT INTO report_schedules (tenant, schedule_id, platform, slot_id, cadence, local_hour, weekday, "
            "webhook, emails, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
            (schedule.tenant, schedule.schedule_id, schedule.platform, schedule.slot_id, schedule.cadence,
             schedule.local_hour, schedule.weekday, schedule.webhook, set(schedule.emails) or None,
             schedule.created_at)).one()
        return bool(row["[applied]"])

    def list(self, tenant: Optional[str] = None) -> List[Schedule]:
        """One tenant's schedules, or every tenant's (a scan: the table holds a few rows per tenant)."""
        if tenant is None:
            rows = self.db.execute(SELECT_SCHEDULE)
        else:
            rows = self.db.execute(SELECT_SCHEDULE + " WHERE tenant = ?", (tenant,))
        return sorted((_schedule(r) for r in rows), key=lambda s: (s.tenant, s.schedule_id))

    def remove(self, tenant: str, schedule_id: str) -> bool:
        """Delete a schedule (and its runs); False when there was none."""
        row = self.db.execute("DELETE FROM report_schedules WHERE tenant = ? AND schedule_id = ? IF EXISTS",
                              (tenant, schedule_id)).one()
        if row["[applied]"]:
            self.db.execute("DELETE FROM report_runs WHERE tenant = ? AND schedule_id = ?", (tenant, schedule_id))
        return bool(row["[applied]"])

    def claim(self, schedule: Schedule, due_at: datetime, owner: str, lease_until: datetime) -> bool:
        """Own the run due at due_at: a lightweight transaction, so among any number of schedulers one wins."""
        row = self.db.execute(
            "INSERT INTO report_runs (tenant, schedule_id, due_at, owner, lease_until, status) "
            "VALUES (?, ?, ?, ?, ?, 'running') IF NOT EXISTS",
            (schedule.tenant, schedule.schedule_id, due_at, owner, lease_until)).one()
        return bool(row["[applied]"])

    def take_over(self, schedule: Schedule, run: Run, owner: str, lease_until: datetime) -> bool:
        """Own a run whose owner's lease is over and that is still running (the owner died)."""
        row = self.db.execute(
            "UPDATE report_runs SET owner = ?, lease_until = ? WHERE tenant = ? AND schedule_id = ? AND due_at = ? "
            "IF owner = ? AND lease_until = ? AND status = 'running'",
            (owner, lease_until, schedule.tenant, schedule.schedule_id, run.due_at, run.owner, run.lease_until)).one()
        return bool(row["[applied]"])

    def finish(self, schedule: Schedule, due_at: datetime, owner: str, error: Optional[str], now: datetime) -> bool:
        """Mark the run sent (error None) or failed; only its owner can."""
        row = self.db.execute(
            "UPDATE report_runs SET status = ?, error = ?, finished_at = ? WHERE tenant = ? AND schedule_id = ? "
            "AND due_at = ? IF owner = ?",
            ("failed" if error else "sent", error, now, schedule.tenant, schedule.schedule_id, due_at, owner)).one()
        return bool(row["[applied]"])

    def runs(self, schedule: Schedule, limit: int = 10) -> List[Run]:
        """The latest runs, newest first."""
        rows = self.db.execute(
            "SELECT due_at, owner, lease_until, status, error FROM report_runs WHERE tenant = ? AND schedule_id = ? "
            "LIMIT ?", (schedule.tenant, schedule.schedule_id, limit))
        return [Run(_utc(r["due_at"]), r["owner"], _utc(r["lease_until"]), r["status"], r["error"]) for r in rows]


def _schedule(row) -> Schedule:
    return Schedule(tenant=row["tenant"], schedule_id=row["schedule_id"], platform=row["platform"],
                    slot_id=row["slot_id"], cadence=row["cadence"], local_hour=row["local_hour"],
                    weekday=row["weekday"], webhook=row["webhook"], emails=tuple(sorted(row["emails"] or ())),
                    created_at=_utc(row["created_at"]))


def _utc(moment: Optional[datetime]) -> Optional[datetime]:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)
