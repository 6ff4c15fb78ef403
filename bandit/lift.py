"""Lift of the bandit over a holdout group that saw a uniform random creative.

With c_t clicks in n_t bandit impressions and c_h clicks in n_h holdout
impressions, the click-through rates are p_t = c_t / n_t and p_h = c_h / n_h,
and the relative lift is

    lift = p_t / p_h - 1.

Its confidence interval comes from the log of the risk ratio (Katz et al.,
1978), whose standard error by the delta method is

    se(log(p_t / p_h)) = sqrt(1/c_t - 1/n_t + 1/c_h - 1/n_h),

so the interval is exp(log(p_t / p_h) -/+ z se) - 1. With zero clicks on
either side the ratio is undefined; 0.5 is then added to every cell (the
Haldane-Anscombe correction) so an interval can still be given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from bandit.checks import require_count, require_probability_level

__all__ = ["Lift", "lift_over_holdout"]


@dataclass(frozen=True)
class Lift:
    """Click-through of both groups, the relative lift and its confidence interval.

    lift, ci_low and ci_high are None while either group has no impressions.
    """

    treated_ctr: float | None
    holdout_ctr: float | None
    lift: float | None
    ci_low: float | None
    ci_high: float | None
    level: float

    def as_dict(self) -> dict:
        return {
            "treated_ctr": self.treated_ctr,
            "holdout_ctr": self.holdout_ctr,
            "lift": self.lift,
            "ci": None if self.ci_low is None else [self.ci_low, self.ci_high],
            "level": self.level,
        }


def lift_over_holdout(
    treated_clicks: int,
    treated_impressions: int,
    holdout_clicks: int,
    holdout_impressions: int,
    level: float = 0.95,
) -> Lift:
    """The relative lift p_t / p_h - 1 with its Katz log-ratio interval (see module docstring)."""
    for name, value in (
        ("treated_clicks", treated_clicks),
        ("treated_impressions", treated_impressions),
        ("holdout_clicks", holdout_clicks),
        ("holdout_impressions", holdout_impressions),
    ):
        require_count(name, value)
    require_probability_level("level", level)
    treated_clicks = min(treated_clicks, treated_impressions)
    holdout_clicks = min(holdout_clicks, holdout_impressions)
    treated_ctr = treated_clicks / treated_impressions if treated_impressions else None
    holdout_ctr = holdout_clicks / holdout_impressions if holdout_impressions else None
    if treated_ctr is None or holdout_ctr is None:
        return Lift(treated_ctr, holdout_ctr, None, None, None, level)

    c_t, n_t, c_h, n_h = treated_clicks, treated_impressions, holdout_clicks, holdout_impressions
    if c_t == 0 or c_h == 0:
        c_t, n_t, c_h, n_h = c_t + 0.5, n_t + 0.5, c_h + 0.5, n_h + 0.5
    log_ratio = math.log((c_t / n_t) / (c_h / n_h))
    se = math.sqrt(max(1 / c_t - 1 / n_t + 1 / c_h - 1 / n_h, 0.0))
    z = float(stats.norm.ppf(0.5 + level / 2))
    lift = treated_ctr / holdout_ctr - 1 if holdout_ctr > 0 else math.exp(log_ratio) - 1
    return Lift(
        treated_ctr=treated_ctr,
        holdout_ctr=holdout_ctr,
        lift=lift,
        ci_low=math.exp(log_ratio - z * se) - 1,
        ci_high=math.exp(log_ratio + z * se) - 1,
        level=level,
    )
