"""Names of time-bucket rows kept inside a fenced partition (``stream_counts``, ``revenue_state``).

A slot with a half-life keeps some totals per time bucket (bandit.discount) in rows of kind 'tb'
beside its other rows, so that one conditional batch moves them together. Such a row is named
JSON ``["<bucket start, 12 digits>", segment, creative_id]``: the zero-padded start makes the names
sort by bucket, so one range read (``name >= bucket_prefix(since)``) finds the buckets a snapshot
reads, and one (``name < bucket_prefix(first_kept)``) the ones storage may delete.
"""
from __future__ import annotations

import json
from typing import Tuple

BUCKET_KIND = "tb"
BucketRow = Tuple[int, str, str]  # (bucket start, segment, creative_id)


def bucket_prefix(bucket: int) -> str:
    """The name every row of ``bucket`` starts with (and no row of an earlier bucket sorts after)."""
    return '["' + f"{max(bucket, 0):012d}" + '"'


def bucket_name(row: BucketRow) -> str:
    bucket, segment, creative_id = row
    return json.dumps([f"{bucket:012d}", segment, creative_id], separators=(",", ":"))


def bucket_row(name: str) -> BucketRow:
    bucket, segment, creative_id = json.loads(name)
    return int(bucket), segment, creative_id
