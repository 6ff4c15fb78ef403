"""Export the event log of a window to Parquet or CSV files for Spark and analysts."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

from app.storage.db import Database
from app.jobs.log_frames import EVENT_COLUMNS, EventLogError, events_frame, list_slots
from app.settings import Settings


def check_target(out: str) -> Path:
    """``out`` as a Path, if it is new or an empty directory (checked before Spark starts)."""
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise EventLogError(f"{out} already exists and is not an empty directory: choose a new --out")
    if not target.exists() and not target.parent.is_dir():
        raise EventLogError(f"the parent directory of {out} does not exist")
    return target


def export_events(spark, db: Database, settings: Settings, since: datetime, until: datetime, fmt: str, out: str,
                  tenant: Optional[str] = None) -> int:
    """Write every impression and click of [since, until) to ``out`` (a directory of part files).

    Columns: EVENT_COLUMNS (event_time in UTC). Returns the number of events written. ``out`` must
    not exist or be empty, so an export never mixes with an older one.
    """
    target = check_target(out)
    frame = events_frame(spark, settings, list_slots(db, tenant), since, until).select(*EVENT_COLUMNS).cache()
    try:
        count = frame.count()
        writer = frame.write.mode("overwrite")
        if fmt == "csv":
            writer.option("header", True).csv(str(target))
        else:
            writer.parquet(str(target))
    finally:
        frame.unpersist()
    return count
