"""The report scheduler: sends each due run of every schedule exactly once, however many schedulers run.

A schedule is due at ``local_hour``:00 in the slot's time zone, every day (``daily``) or on one weekday
(``weekly``). Each pass looks only at the latest due time of each schedule (not before the schedule
was created): a scheduler that was down for three days sends one report when it is back (catch-up
once), not three. The run's row in ``report_runs`` is its lease: the scheduler whose
``INSERT ... IF NOT EXISTS`` applies builds and sends it; one that dies mid-run leaves a lease that
another takes over once ``lease_s`` is over. A run that failed for good (after the delivery's own
retries) stays failed and is named as an alert in the schedule's next message.

The clock is passed in (``now``) so that tests step through days without waiting for them.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Callable, List, Optional

from app.storage.report_schedules import ReportScheduleStore, Run, Schedule

log = logging.getLogger(__name__)

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
DEFAULT_LEASE_S = 900.0


def latest_due(schedule: Schedule, now: datetime, zone: tzinfo) -> Optional[datetime]:
    """The latest due time <= now (UTC), or None when the schedule's first due time is still ahead."""
    local_now = now.astimezone(zone)
    day = local_now.date()
    for back in range(0, 8):
        candidate_day = day - timedelta(days=back)
        if schedule.cadence == "weekly" and candidate_day.weekday() != (schedule.weekday or 0):
            continue
        local = datetime.combine(candidate_day, time(schedule.local_hour), tzinfo=zone)
        due = local.astimezone(timezone.utc)
        if due <= now:
            return due if due >= schedule.created_at.astimezone(timezone.utc) else None
    return None


def period_of(schedule: Schedule, due_at: datetime) -> tuple:
    """(start, end) of the report a run sends: the day or week that ends at its due time."""
    return due_at - PERIODS[schedule.cadence], due_at


@dataclass(frozen=True)
class RunResult:
    schedule: Schedule
    due_at: datetime
    error: Optional[str]  # None: sent


# send(schedule, due_at, previous_failure) -> None on success, or the one-line error of a failed delivery.
Sender = Callable[[Schedule, datetime, Optional[Run]], Optional[str]]


class Scheduler:
    def __init__(self, store: ReportScheduleStore, send: Sender, zone_of: Callable[[Schedule], tzinfo], owner: str,
                 lease_s: float = DEFAULT_LEASE_S):
        self.store, self.send, self.zone_of, self.owner, self.lease_s = store, send, zone_of, owner, lease_s

    def run_once(self, now: datetime) -> List[RunResult]:
        """One pass over every schedule at time now: send the runs that are due and that this scheduler wins."""
        results = []
        for schedule in self.store.list():
            if schedule.cadence not in PERIODS:
                continue
            due = latest_due(schedule, now, self.zone_of(schedule))
            if due is None or not self._own(schedule, due, now):
                continue
            previous = next((r for r in self.store.runs(schedule, 5) if r.due_at < due), None)
            try:
                error = self.send(schedule, due, previous if previous and previous.status == "failed" else None)
            except Exception as failure:  # one schedule's trouble must not stop the others
                log.exception("scheduled report failed", extra={"tenant": schedule.tenant,
                                                                "schedule_id": schedule.schedule_id})
                error = f"the report could not be built: {type(failure).__name__}"
            self.store.finish(schedule, due, self.owner, error, now)
            results.append(RunResult(schedule, due, error))
        return results

    def _own(self, schedule: Schedule, due: datetime, now: datetime) -> bool:
        lease_until = now + timedelta(seconds=self.lease_s)
        if self.store.claim(schedule, due, self.owner, lease_until):
            return True
        run = next((r for r in self.store.runs(schedule, 3) if r.due_at == due), None)
        if run is None or run.status != "running" or run.lease_until is None or run.lease_until > now:
            return False
        return self.store.take_over(schedule, run, self.owner, lease_until)

    def run_forever(self, interval_s: float, stop: threading.Event, clock: Callable[[], datetime],
                    on_results: Callable[[List[RunResult]], None] = lambda results: None) -> None:
        """Pass every interval_s seconds until stop is set."""
        while not stop.is_set():
            try:
                on_results(self.run_once(clock()))
            except Exception:  # storage trouble: log it and try again at the next pass
                log.exception("scheduler pass failed")
            stop.wait(interval_s)
