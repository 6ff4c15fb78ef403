"""Discounted evidence: older impressions and clicks count less, so a worn-out creative is noticed.

A slot with a half-life h weighs evidence of age a (seconds) with

    w(a) = 0.5 ** (a / h)

so an impression one half-life old counts as half an impression. The posterior of a creative is
then Beta(a0 + k_eff, b0 + n_eff - k_eff) with the *effective* counts

    n_eff = sum_b w(a_b) n_b,    k_eff = sum_b w(a_b) k_b

over time buckets b. Counters cannot decay in place, so storage keeps counts per bucket (a bucket
is named by its start, in seconds since the epoch) and the sums are taken when a snapshot is built.
A bucket is BUCKETS_PER_HALF_LIFE times narrower than the half-life, and its age a_b is the age of
its middle (of the part already elapsed, for the current bucket): the weight of one bucket varies
by a factor 2 ** (1 / 4) ~ 1.19 across it. Only the last MAX_BUCKETS buckets are read: they cover
MAX_BUCKETS / BUCKETS_PER_HALF_LIFE = 7.5 half-lives, and what is older weighs less than
0.5 ** 7.5 ~ 0.6 % and is left out.

The revenue factors of a revenue slot (bandit.policies.revenue) are discounted the same way: the
attributed purchases, refunds and amounts of a decision count in the bucket of the decision's time,
like its click, and their weighted sums (discount_revenue_buckets) are the RevenueTotals the
purchase, refund and amount posteriors are updated with.

A seeded prior Beta(alpha, beta) counts as evidence of its seed time: it moves from Beta(alpha, beta)
toward Beta(1, 1) as Beta(1 + w (alpha - 1), 1 + w (beta - 1)), and is dropped once w < 1 %.

Storage need not keep a bucket forever: once it is older than the oldest bucket read and no more
evidence can arrive for it (evidence arrives at most late_s after its decision), nothing reads or
writes it again (first_bucket_kept), and it can be deleted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from bandit.beta import ArmCounts, BetaPosterior
from bandit.checks import require_positive_int
from bandit.revenue_model import RevenueTotals

__all__ = [
    "BUCKETS_PER_HALF_LIFE",
    "MAX_BUCKETS",
    "MIN_PRIOR_WEIGHT",
    "DiscountedCounts",
    "bucket_start",
    "bucket_weights",
    "bucket_width_s",
    "discount_buckets",
    "discount_prior",
    "discount_revenue_buckets",
    "evidence_weight",
    "first_bucket_kept",
    "first_bucket_read",
    "weighted_sums",
]

BUCKETS_PER_HALF_LIFE = 4
MAX_BUCKETS = 30
MIN_PRIOR_WEIGHT = 0.01


@dataclass(frozen=True)
class DiscountedCounts(ArmCounts):
    """Effective impressions and clicks: weighted sums, so real numbers >= 0 rather than integers."""

    impressions: float = 0.0
    clicks: float = 0.0

    def __post_init__(self) -> None:
        for name in ("impressions", "clicks"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, but {value!r} is given")

    def clamped(self) -> DiscountedCounts:
        if self.clicks <= self.impressions:
            return self
        return DiscountedCounts(self.impressions, self.impressions)

    def __add__(self, other: ArmCounts) -> DiscountedCounts:
        if not isinstance(other, ArmCounts):
            return NotImplemented
        return DiscountedCounts(self.impressions + other.impressions, self.clicks + other.clicks)

    __radd__ = __add__


def bucket_width_s(half_life_s: int) -> int:
    """Seconds per bucket: floor(h / BUCKETS_PER_HALF_LIFE), at least 1."""
    require_positive_int("half_life_s", half_life_s)
    return max(1, half_life_s // BUCKETS_PER_HALF_LIFE)


def bucket_start(time_s: float, width_s: int) -> int:
    """The bucket holding time_s: floor(time_s / width) * width (seconds since the epoch)."""
    return int(time_s // width_s) * width_s


def first_bucket_read(now_s: float, width_s: int) -> int:
    """The oldest bucket a snapshot reads: MAX_BUCKETS buckets, the current one included."""
    return bucket_start(now_s, width_s) - (MAX_BUCKETS - 1) * width_s


def first_bucket_kept(now_s: float, width_s: int, late_s: float) -> int:
    """The oldest bucket storage must keep: min(first_bucket_read(now), bucket of now - late_s).

    An older bucket b is not read (b < first_bucket_read) and ends before now - late_s, so when no
    evidence is credited more than late_s after its decision, nothing writes it again either.
    """
    return min(first_bucket_read(now_s, width_s), bucket_start(now_s - late_s, width_s))


def evidence_weight(age_s: float, half_life_s: float) -> float:
    """w(a) = 0.5 ** (a / h); evidence from the future (clock skew) counts fully."""
    return float(0.5 ** (max(age_s, 0.0) / half_life_s))


def bucket_weights(starts: np.ndarray, width_s: int, now_s: float, half_life_s: float) -> np.ndarray:
    """w(now - middle of the elapsed part of each bucket), elementwise over bucket starts."""
    starts = np.asarray(starts, dtype=float)
    ends = np.minimum(starts + width_s, now_s)
    middles = (starts + np.maximum(ends, starts)) / 2.0
    ages = np.maximum(now_s - middles, 0.0)
    return np.power(0.5, ages / half_life_s)


def weighted_sums(
    rows: Iterable[tuple], now_s: float, half_life_s: int
) -> dict[tuple[str, str], np.ndarray]:
    """{(segment, creative_id): sum over buckets b of w_b v_b} from rows (bucket, segment, creative, *v).

    Every row carries the same number of values v; negative ones (a counter read between an
    increment and its correction, a total moved by float differences) count as 0.
    """
    rows = list(rows)
    if not rows:
        return {}
    index: dict[tuple[str, str], int] = {}
    keys = np.fromiter((index.setdefault((row[1], row[2]), len(index)) for row in rows), dtype=np.intp,
                       count=len(rows))
    starts = np.fromiter((row[0] for row in rows), dtype=float, count=len(rows))
    values = np.maximum(np.array([row[3:] for row in rows], dtype=float), 0.0)
    weights = bucket_weights(starts, bucket_width_s(half_life_s), now_s, half_life_s)
    sums = np.column_stack([np.bincount(keys, weights=weights * column, minlength=len(index))
                            for column in values.T])
    return {key: sums[i] for key, i in index.items()}


def discount_buckets(
    rows: Iterable[tuple[int, str, str, int, int]],
    now_s: float,
    half_life_s: int,
) -> dict[str, dict[str, DiscountedCounts]]:
    """{segment: {creative_id: DiscountedCounts}} from rows (bucket, segment, creative, n, k).

        n_eff[s, c] = sum over buckets b of w_b n[b, s, c],   likewise k_eff

    with w_b from bucket_weights (weighted_sums).
    """
    out: dict[str, dict[str, DiscountedCounts]] = {}
    for (segment, creative_id), (impressions, clicks) in weighted_sums(rows, now_s, half_life_s).items():
        out.setdefault(segment, {})[creative_id] = DiscountedCounts(float(impressions), float(clicks))
    return out


def discount_revenue_buckets(
    rows: Iterable[tuple[int, str, str, float, float, float, float]],
    now_s: float,
    half_life_s: int,
) -> dict[str, dict[str, RevenueTotals]]:
    """{segment: {creative_id: RevenueTotals}} from rows (bucket, segment, creative, purchases,
    refunds, gross, gross_sq): each total weighted like the counts, sum_b w_b x[b, s, c].

    The weights are the click counts' weights of the same buckets, so p(purchase | click) is
    estimated from purchases and clicks of the same decisions, each discounted by its decision's age.
    """
    out: dict[str, dict[str, RevenueTotals]] = {}
    for (segment, creative_id), sums in weighted_sums(rows, now_s, half_life_s).items():
        out.setdefault(segment, {})[creative_id] = RevenueTotals(*(float(v) for v in sums))
    return out


def discount_prior(prior: BetaPosterior, age_s: float, half_life_s: int) -> BetaPosterior | None:
    """A seeded prior of age a: Beta(1 + w (alpha - 1), 1 + w (beta - 1)), or None once w < 1 %.

    The result is a convex combination of Beta(alpha, beta) and Beta(1, 1), so it stays a proper
    Beta distribution for any positive alpha and beta.
    """
    weight = evidence_weight(age_s, half_life_s)
    if weight < MIN_PRIOR_WEIGHT:
        return None
    return BetaPosterior(1.0 + weight * (prior.alpha - 1.0), 1.0 + weight * (prior.beta - 1.0))


def discount_priors(
    priors: Mapping[str, Mapping[str, tuple[BetaPosterior, float]]], now_s: float, half_life_s: int
) -> dict[str, dict[str, BetaPosterior]]:
    """discount_prior of every {segment: {creative_id: (prior, seeded_at_s)}}; dropped ones left out."""
    out: dict[str, dict[str, BetaPosterior]] = {}
    for segment, by_creative in priors.items():
        for creative_id, (prior, seeded_at_s) in by_creative.items():
            discounted = discount_prior(prior, now_s - seeded_at_s, half_life_s)
            if discounted is not None:
                out.setdefault(segment, {})[creative_id] = discounted
    return out
