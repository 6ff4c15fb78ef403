"""Seeded synthetic histories of a slot with known true click rates per city and creative.

    python -m benchmarks.generate_history --rows 100000 --out history.parquet --truth truth.csv

Each creative carries tags (its payload's "tags"); its base rate is a product of tag effects,
and each city multiplies it by a factor of its own, so rates differ by city and creative and a
model on (city, tags) can predict a creative it has never seen. Rows are written in chunks, so any
size fits in memory. The same seed gives the same file.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, Iterator, Tuple

import click
import numpy as np

TAGS = ("sale", "brand", "video", "seasonal")
TAG_EFFECTS = {"sale": 1.6, "brand": 0.8, "video": 1.3, "seasonal": 1.1}
CITY_NAMES = ("pune", "delhi", "mumbai", "chennai", "kolkata", "jaipur", "surat", "lucknow", "nagpur", "indore",
              "bhopal", "patna")
CHUNK_ROWS = 500_000
START = datetime(2026, 10, 1, tzinfo=timezone.utc)
DAYS = 28


@dataclass(frozen=True)
class HistoryWorld:
    """The truth behind a synthetic history: who exists and how often each pair is clicked."""

    platform: str
    slot_id: str
    cities: Tuple[str, ...]
    city_weights: Tuple[float, ...]  # share of traffic per city (uneven: some cities are rare)
    creatives: Tuple[str, ...]
    tags: Dict[str, Tuple[str, ...]]
    rates: Dict[Tuple[str, str], float]  # (city, creative_id) -> true click rate

    def payload(self, creative_id: str) -> str:
        """The creative's JSON payload as a tenant would store it."""
        return json.dumps({"title": creative_id, "tags": list(self.tags[creative_id])})


def make_world(seed: int, n_cities: int = 5, n_creatives: int = 4, platform: str = "web",
               slot_id: str = "home-banner", base_rate: float = 0.04) -> HistoryWorld:
    """A world whose rates are base_rate * (product of tag effects) * city factor (lognormal, sd 0.3)."""
    if not 1 <= n_cities <= len(CITY_NAMES):
        raise ValueError(f"n_cities must be between 1 and {len(CITY_NAMES)}, but {n_cities} is given")
    if n_creatives < 1:
        raise ValueError(f"n_creatives must be at least 1, but {n_creatives} is given")
    rng = np.random.default_rng(seed)
    cities = CITY_NAMES[:n_cities]
    weights = rng.dirichlet(np.full(n_cities, 2.0))
    creatives = tuple(f"c{i + 1}" for i in range(n_creatives))
    tags = {c: tuple(sorted(rng.choice(TAGS, size=int(rng.integers(1, 3)), replace=False).tolist()))
            for c in creatives}
    city_factor = {city: float(np.exp(rng.normal(0.0, 0.3))) for city in cities}
    rates = {}
    for creative in creatives:
        tag_effect = float(np.prod([TAG_EFFECTS[t] for t in tags[creative]]))
        for city in cities:
            rates[(city, creative)] = float(min(base_rate * tag_effect * city_factor[city], 0.5))
    return HistoryWorld(platform, slot_id, cities, tuple(float(w) for w in weights), creatives, tags, rates)


def impression_chunks(world: HistoryWorld, rows: int, seed: int) -> Iterator[Dict[str, np.ndarray]]:
    """One row per impression: platform, slot_id, creative_id, city, clicked, ts, customer_id, referrer."""
    rng = np.random.default_rng([seed, 1])
    rate_table = np.array([[world.rates[(city, c)] for c in world.creatives] for city in world.cities])
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        city_ix = rng.choice(len(world.cities), size=n, p=world.city_weights)
        creative_ix = rng.integers(0, len(world.creatives), size=n)
        clicked = (rng.random(n) < rate_table[city_ix, creative_ix]).astype(np.int8)
        seconds = rng.integers(0, DAYS * 86400, size=n)
        yield {
            "platform": np.full(n, world.platform, dtype=object),
            "slot_id": np.full(n, world.slot_id, dtype=object),
            "creative_id": np.array(world.creatives, dtype=object)[creative_ix],
            "city": np.array(world.cities, dtype=object)[city_ix],
            "clicked": clicked,
            "ts": np.array([(START + timedelta(seconds=int(s))).isoformat() for s in seconds], dtype=object),
            "customer_id": np.char.add("u", rng.integers(0, 1_000_000, size=n).astype(str)).astype(object),
            "referrer": rng.choice(np.array(["search", "social", "direct"], dtype=object), size=n),
        }


def aggregated_chunks(world: HistoryWorld, rows: int, seed: int) -> Iterator[Dict[str, np.ndarray]]:
    """Aggregated rows (platform, slot_id, creative_id, city, impressions, clicks, day): ``rows`` rows
    of about 500 impressions each (fewer in rare cities), clicks ~ Binomial(impressions, rate)."""
    rng = np.random.default_rng([seed, 2])
    rate_table = np.array([[world.rates[(city, c)] for c in world.creatives] for city in world.cities])
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        city_ix = rng.choice(len(world.cities), size=n)
        creative_ix = rng.integers(0, len(world.creatives), size=n)
        share = np.array(world.city_weights)[city_ix] * len(world.cities)
        impressions = rng.poisson(500 * share) + 1
        clicks = rng.binomial(impressions, rate_table[city_ix, creative_ix])
        days = rng.integers(0, DAYS, size=n)
        yield {
            "platform": np.full(n, world.platform, dtype=object),
            "slot_id": np.full(n, world.slot_id, dtype=object),
            "creative_id": np.array(world.creatives, dtype=object)[creative_ix],
            "city": np.array(world.cities, dtype=object)[city_ix],
            "impressions": impressions.astype(np.int64),
            "clicks": clicks.astype(np.int64),
            "day": np.array([(START + timedelta(days=int(d))).date().isoformat() for d in days], dtype=object),
        }


def write_history(path: Path, chunks: Iterator[Dict[str, np.ndarray]], fmt: str) -> int:
    """Write the chunks to one CSV or Parquet file; return the number of rows written."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    writer, total = None, 0
    try:
        for chunk in chunks:
            table = pa.table(chunk)
            if writer is None:
                writer = (pq.ParquetWriter(str(path), table.schema) if fmt == "parquet"
                          else pacsv.CSVWriter(str(path), table.schema))
            writer.write_table(table)
            total += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return total


def write_truth(path: Path, world: HistoryWorld) -> None:
    """CSV city, creative_id, tags, true_rate, traffic_share: what a fit should recover."""
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["city", "creative_id", "tags", "true_rate", "traffic_share"])
        for city, share in zip(world.cities, world.city_weights):
            for creative in world.creatives:
                out.writerow([city, creative, "|".join(world.tags[creative]), world.rates[(city, creative)], share])


@click.command()
@click.option("--rows", type=click.IntRange(1), required=True, help="Rows to write.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file (.csv or .parquet).")
@click.option("--kind", type=click.Choice(["impressions", "aggregated"]), default="impressions", show_default=True,
              help="One row per impression, or aggregated rows with impressions and clicks per day.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--cities", "n_cities", type=click.IntRange(1, len(CITY_NAMES)), default=5, show_default=True)
@click.option("--creatives", "n_creatives", type=click.IntRange(1, 100), default=4, show_default=True)
@click.option("--platform", default="web", show_default=True)
@click.option("--slot", "slot_id", default="home-banner", show_default=True)
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the true rates (and creative tags) to this CSV.")
def main(rows: int, out: Path, kind: str, seed: int, n_cities: int, n_creatives: int, platform: str,
         slot_id: str, truth: Path) -> None:
    """Write a seeded synthetic history of one slot with known true click rates."""
    fmt = "parquet" if out.suffix.lower() == ".parquet" else "csv"
    world = make_world(seed, n_cities, n_creatives, platform, slot_id)
    chunks = impression_chunks(world, rows, seed) if kind == "impressions" else aggregated_chunks(world, rows, seed)
    written = write_history(out, chunks, fmt)
    if truth is not None:
        write_truth(truth, world)
    click.echo(f"wrote {written} {kind} rows to {out}")


if __name__ == "__main__":
    main()
