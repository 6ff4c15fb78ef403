"""An exploration floor on top of any policy: every eligible creative keeps a minimum share.

Thompson sampling all but stops showing a creative it believes is bad, so it notices late when that
creative becomes good. A floor f keeps showing every one of the K eligible creatives: with
probability K f the creative is drawn uniformly, otherwise the policy decides. Creative j is then
shown with the mixture probability

    p_j = f + (1 - K f) q_j,     f = min(min_share, 0.5 / K)

where q_j is the policy's own choice probability. The cap 0.5 / K keeps the floors at most half
of the traffic, whatever min_share a slot asks for. p_j is the propensity to log: it is the real
probability that the request showed j.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bandit.policies.base import Decision

__all__ = ["MAX_FLOOR_TOTAL", "floor_share", "mixed_probabilities", "with_floor"]

MAX_FLOOR_TOTAL = 0.5  # the floors of all creatives together take at most this share of traffic


def floor_share(min_share: float | None, n_creatives: int) -> float:
    """f = min(min_share, MAX_FLOOR_TOTAL / K), and 0 for a missing or non-positive min_share."""
    if not min_share or min_share <= 0 or n_creatives < 1:
        return 0.0
    return min(float(min_share), MAX_FLOOR_TOTAL / n_creatives)


def mixed_probabilities(probabilities: np.ndarray, min_share: float | None) -> np.ndarray:
    """p = f + (1 - K f) q for the policy's choice probabilities q (summing to 1)."""
    q = np.asarray(probabilities, dtype=float)
    f = floor_share(min_share, len(q))
    return f + (1.0 - len(q) * f) * q


def with_floor(
    decision: Decision,
    creative_ids: Sequence[str],
    probabilities: np.ndarray,
    min_share: float | None,
    rng: np.random.Generator,
) -> Decision:
    """The policy's decision, or with probability K f a uniform pick; propensity p_j as above.

    decision: what the policy chose for this request (its draw is used when nothing is explored).
    probabilities: the policy's choice probabilities q of creative_ids, in that order.
    """
    k = len(creative_ids)
    f = floor_share(min_share, k)
    if f == 0.0:
        return decision
    if rng.random() < k * f:
        index = int(rng.integers(k))
    else:
        index = list(creative_ids).index(decision.creative_id)
    propensity = f + (1.0 - k * f) * float(probabilities[index])
    return Decision(creative_ids[index], decision.segment, propensity)
