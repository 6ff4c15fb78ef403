"""What the stats of a revenue slot show per offer: the posterior of each factor, summarised.

For every offer in the segment used, from one set of joint draws (bandit.policies.revenue):
the mean of each factor, the value per impression (click x purchase x (1 - refund) x amount)
with an equal-tailed 95% interval, and the probability that the offer has the largest value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bandit.checks import require_probability_level
from bandit.policies import SlotSnapshot
from bandit.policies.revenue import Prices, RevenueConfig, offer_values, revenue_posteriors, win_frequencies

__all__ = ["OfferSummary", "revenue_summaries"]


@dataclass(frozen=True)
class OfferSummary:
    """What /stats shows for one offer in one segment.

    Posterior means of the four factors, the value per impression (mean of the joint draws) with its
    equal-tailed 95% interval, and the probability that the offer has the largest value.
    """

    creative_id: str
    click_rate: float
    purchase_rate: float
    refund_rate: float
    amount: float
    value: float
    value_ci95: tuple[float, float]
    probability_best: float


def revenue_summaries(
    snapshot: SlotSnapshot,
    segment: str | None,
    creative_ids: Sequence[str],
    prices: Prices | None,
    config: RevenueConfig,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[str, list[OfferSummary]]:
    """The segment used and one summary per offer, from config.thompson.propensity_draws draws.

    Interval ends are quantiles of the drawn values; with 10,000 draws a 2.5% quantile moves
    by about sqrt(0.025 x 0.975 / 10,000) = 0.16 percentage points of probability mass.
    """
    require_probability_level("level", level)
    used, posteriors = revenue_posteriors(snapshot, segment, creative_ids, prices, config)
    draws = posteriors.draw_factors(rng, config.thompson.propensity_draws)
    values = offer_values(draws)
    best = win_frequencies(values)
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(values, [tail, 1.0 - tail], axis=0)
    summaries = [
        OfferSummary(
            creative_id=creative_id,
            click_rate=posteriors.click[j].mean,
            purchase_rate=posteriors.purchase[j].mean,
            refund_rate=posteriors.refund[j].mean,
            amount=posteriors.amount[j].mu,
            value=float(np.mean(values[:, j])),
            value_ci95=(float(lower[j]), float(upper[j])),
            probability_best=float(best[j]),
        )
        for j, creative_id in enumerate(creative_ids)
    ]
    return used, summaries
