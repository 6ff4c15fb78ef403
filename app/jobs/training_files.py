"""Write training rows to one CSV or Parquet file (written beside the target, then renamed into place)."""
from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterable

from app.jobs.training_rows import COLUMNS, TrainingError

FORMATS = ("csv", "parquet")
# Parquet column types; everything else is a string.
DOUBLES = ("price", "propensity", "last_week.purchase_amount", "last_session.win_ratio", "revenue", "purchases",
           "refunds")
BOOLEANS = ("facebook_connected", "clicked", "label_final")
INTEGERS = ("last_session.games_played",)


def check_target(out: str) -> Path:
    """The output path; TrainingError when it exists or its directory does not."""
    target = Path(out)
    if target.exists():
        raise TrainingError(f"{out} already exists: choose a new --out")
    if not target.parent.is_dir():
        raise TrainingError(f"the directory of {out} does not exist")
    return target


def write_rows(rows: Iterable[Dict[str, Any]], fmt: str, out: str) -> int:
    """Write the rows to ``out`` in ``fmt``; the number of rows written."""
    if fmt not in FORMATS:
        raise TrainingError(f"--format must be one of {', '.join(FORMATS)}, but {fmt!r} is given")
    target = check_target(out)
    partial = target.with_name(f".{target.name}.partial")
    try:
        count = _write_csv(rows, partial) if fmt == "csv" else _write_parquet(rows, partial)
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return count


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def _write_csv(rows: Iterable[Dict[str, Any]], path: Path) -> int:
    count = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_text(row[c]) for c in COLUMNS])
            count += 1
    return count


def _write_parquet(rows: Iterable[Dict[str, Any]], path: Path) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise TrainingError("--format parquet needs pyarrow: pip install 'slotbandit[parquet]'") from None

    def kind(column: str):
        if column == "timestamp":
            return pa.timestamp("ms", tz="UTC")
        if column in DOUBLES:
            return pa.float64()
        if column in BOOLEANS:
            return pa.bool_()
        if column in INTEGERS:
            return pa.int64()
        return pa.string()

    schema = pa.schema([(c, kind(c)) for c in COLUMNS])
    collected = list(rows)
    table = pa.Table.from_pydict({c: [r[c] for r in collected] for c in COLUMNS}, schema=schema)
    pq.write_table(table, str(path))
    return len(collected)
