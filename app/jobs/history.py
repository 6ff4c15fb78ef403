"""Historical rows of a slot in Spark: read CSV or Parquet, sort each row into usable or why not, aggregate.

Two layouts are accepted (extra columns are ignored):

    aggregated      platform, slot_id, creative_id, city, impressions, clicks[, day]
    per impression  platform, slot_id, creative_id, city, clicked[, ts, customer_id, referrer, event_id]

Each row gets one reason; only "ok" rows and rows with a blank or malformed city (folded into the
slot-wide level) are used. Everything stays in Spark except the counts per reason and the
aggregated cells (city, creative, day of week), which are small whatever the input size.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Tuple

AGGREGATED = ("platform", "slot_id", "creative_id", "city", "impressions", "clicks")
PER_IMPRESSION = ("platform", "slot_id", "creative_id", "city", "clicked")

OK = "ok"
BLANK_CITY = "blank_city"
MALFORMED_CITY = "malformed_city"
USABLE = (OK, BLANK_CITY, MALFORMED_CITY)
# Reasons in the order they are checked; the first that applies is the row's reason.
REASONS = {
    "other_slot": "another platform or slot (not this seed's)",
    "non_numeric": "impressions, clicks or clicked not a non-negative whole number",
    "clicks_gt_impressions": "more clicks than impressions",
    "unknown_creative": "creative not configured in the slot",
    "duplicate_event": "event_id seen before",
    "city_not_listed": "city not in --cities",
    BLANK_CITY: "blank city: counted slot-wide only",
    MALFORMED_CITY: "malformed city: counted slot-wide only",
    OK: "used",
}
CITY_PATTERN = r"^[\p{L}\p{N} '._-]{1,64}$"


class HistoryError(Exception):
    """The history cannot be read; ``str(error)`` is the one line for the operator."""


@dataclass(frozen=True)
class HistoryFilter:
    """Which rows a seed may use: its platform and slot, its creatives, optionally a city list."""

    platform: str
    slot_id: str
    creative_ids: FrozenSet[str]
    cities: Optional[FrozenSet[str]] = None


@dataclass
class HistoryCounts:
    """What the history holds for a seed: rows per reason and the usable cells.

    cells: (city or None when blank/malformed, creative_id, day of week 0=Monday or None,
    impressions, clicks).
    """

    layout: str
    rows_by_reason: Dict[str, int]
    cells: List[Tuple[Optional[str], str, Optional[int], int, int]] = field(default_factory=list)


def check_history(path: str) -> str:
    """The layout of the history at ``path``, checked without Spark: the file exists and its header
    (CSV) or schema (Parquet) has the columns of a layout. Raises HistoryError in one line."""
    source = Path(path)
    if not source.exists():
        raise HistoryError(f"history file {path} does not exist")
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".csv", ".parquet")) if source.is_dir() \
        else [source]
    if not files:
        raise HistoryError(f"history directory {path} holds no .csv or .parquet file")
    try:
        columns = _columns(files[0])
    except (OSError, UnicodeDecodeError, ValueError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise HistoryError(f"cannot read history {path}: {first}") from None
    return _layout(path, columns)


def _columns(file: Path) -> List[str]:
    if file.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return [c.strip().lower() for c in pq.read_schema(file).names]
        except Exception as error:  # pyarrow raises its own ArrowInvalid for a file that is not Parquet
            raise ValueError(str(error)) from None
    with open(file, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    return [c.strip().lower() for c in header]


def _layout(path: str, columns: List[str]) -> str:
    if all(c in columns for c in AGGREGATED):
        return "aggregated"
    if all(c in columns for c in PER_IMPRESSION):
        return "per impression"
    raise HistoryError(f"history {path} has columns {columns}; it needs either {', '.join(AGGREGATED)} "
                       f"or {', '.join(PER_IMPRESSION)}")


def read_history(spark, path: str):
    """A DataFrame of every column as text, and its layout ('aggregated' or 'per impression')."""
    source = Path(path)
    if not source.exists():
        raise HistoryError(f"history file {path} does not exist")
    is_parquet = source.suffix.lower() == ".parquet" or (source.is_dir() and any(source.glob("*.parquet")))
    try:
        reader = spark.read
        frame = reader.parquet(str(source)) if is_parquet else reader.option("header", True).csv(str(source))
        columns = [c.strip().lower() for c in frame.columns]
        frame = frame.toDF(*columns)
    except Exception as error:
        first = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise HistoryError(f"cannot read history {path}: {first}") from None
    layout = _layout(path, columns)
    from pyspark.sql import functions as F

    return frame.select([F.col(c).cast("string").alias(c) for c in columns]), layout


def classify(frame, layout: str, flt: HistoryFilter):
    """Columns city, creative_id, dow, impressions, clicks, reason (one reason per row)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    whole = r"^\s*\d+(\.0+)?\s*$"
    if layout == "aggregated":
        numeric = F.col("impressions").rlike(whole) & F.col("clicks").rlike(whole)
        # try_cast: a number too large for a long is null (non_numeric), never a failed job.
        impressions = F.when(numeric, F.col("impressions").try_cast("double").try_cast("long"))
        clicks = F.when(numeric, F.col("clicks").try_cast("double").try_cast("long"))
        day = F.col("day") if "day" in frame.columns else F.lit(None).cast("string")
    else:
        flag = F.lower(F.trim(F.col("clicked")))
        numeric = flag.isin("0", "1", "true", "false", "0.0", "1.0")
        impressions = F.when(numeric, F.lit(1).cast("long"))
        clicks = F.when(numeric, F.when(flag.isin("1", "true", "1.0"), 1).otherwise(0).cast("long"))
        day = F.col("ts") if "ts" in frame.columns else F.lit(None).cast("string")
    city = F.lower(F.trim(F.regexp_replace(F.col("city"), r"\s+", " ")))
    creative = F.trim(F.col("creative_id"))
    rows = frame.select(
        F.trim(F.col("platform")).alias("platform"), F.trim(F.col("slot_id")).alias("slot_id"),
        creative.alias("creative_id"), city.alias("city"), impressions.alias("impressions"),
        clicks.alias("clicks"),
        (F.dayofweek(F.try_to_timestamp(F.substring(day, 1, 10), F.lit("yyyy-MM-dd"))) + 5) % 7,  # 0 = Monday
        (F.col("event_id") if "event_id" in frame.columns else F.lit(None).cast("string")).alias("event_id"),
    ).toDF("platform", "slot_id", "creative_id", "city", "impressions", "clicks", "dow", "event_id")
    duplicate = F.lit(False)
    if "event_id" in frame.columns:
        order = Window.partitionBy("event_id").orderBy(F.monotonically_increasing_id())
        rows = rows.withColumn("_n", F.row_number().over(order))
        duplicate = F.col("event_id").isNotNull() & (F.col("_n") > 1)
    listed = F.col("city").isin(sorted(flt.cities)) if flt.cities else F.lit(True)
    reason = (
        F.when((F.col("platform") != flt.platform) | (F.col("slot_id") != flt.slot_id)
               | F.col("platform").isNull() | F.col("slot_id").isNull(), "other_slot")
        .when(F.col("impressions").isNull() | F.col("clicks").isNull(), "non_numeric")
        .when(F.col("clicks") > F.col("impressions"), "clicks_gt_impressions")
        .when(F.col("creative_id").isNull() | ~F.col("creative_id").isin(sorted(flt.creative_ids)),
              "unknown_creative")
        .when(duplicate, "duplicate_event")
        .when(F.col("city").isNull() | (F.col("city") == ""), BLANK_CITY)
        .when(~F.col("city").rlike(CITY_PATTERN), MALFORMED_CITY)
        .when(~listed, "city_not_listed")
        .otherwise(OK)
    )
    return rows.withColumn("reason", reason).select("city", "creative_id", "dow", "impressions", "clicks", "reason")


def summarize(classified, layout: str) -> HistoryCounts:
    """Rows per reason and the usable cells, aggregated in Spark (only small tables reach the driver)."""
    from pyspark.sql import functions as F

    counted = {row["reason"]: int(row["count"]) for row in classified.groupBy("reason").count().collect()}
    usable = classified.filter(F.col("reason").isin(*USABLE)).withColumn(
        "city", F.when(F.col("reason") == OK, F.col("city")))
    cells = usable.groupBy("city", "creative_id", "dow").agg(
        F.sum("impressions").alias("impressions"), F.sum("clicks").alias("clicks")).collect()
    return HistoryCounts(
        layout=layout,
        rows_by_reason=counted,
        cells=[(r["city"], r["creative_id"], r["dow"], int(r["impressions"]), int(r["clicks"])) for r in cells],
    )
