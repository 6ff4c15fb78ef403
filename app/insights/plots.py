"""The report's figures, drawn with matplotlib's Agg backend (no display) and returned as PNG bytes."""
from __future__ import annotations

import io
from datetime import timedelta
from typing import Dict, List, Optional

from app.insights.report_data import SlotReport
from app.insights.timeline import BUCKETS
from app.service.slot_zone import zone_label


class PlottingUnavailable(Exception):
    """matplotlib is not installed; ``str(error)`` says how to install it."""


def require_matplotlib() -> None:
    """Raise ``PlottingUnavailable`` now rather than after a long read."""
    _pyplot()


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlottingUnavailable("matplotlib is not installed: pip install 'slotbandit[report]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "slotbandit"})
    return plt


def figures(report: SlotReport) -> Dict[str, Optional[bytes]]:
    """PNG bytes per figure name; None where there is nothing to draw."""
    return {
        "traffic_share": traffic_share(report),
        "click_through": click_through(report),
        "posteriors": posterior_intervals(report),
        "lift": lift_interval(report),
    }


def _series(report: SlotReport):
    rows = report.period.series()
    # Naive wall-clock times of the slot's zone: matplotlib would draw aware times in UTC.
    starts = [start.replace(tzinfo=None) for start in report.period.bucket_starts()]
    creatives = sorted(report.period.by_creative)
    by_creative: Dict[str, List] = {c: [] for c in creatives}
    for _start, creative_id, _imp, _clicks, share, ctr in rows:
        by_creative[creative_id].append((share, ctr))
    return starts, creatives, by_creative


def traffic_share(report: SlotReport) -> Optional[bytes]:
    """Stacked bars, one per bucket: the share of the bucket's impressions each creative got."""
    starts, creatives, series = _series(report)
    if not creatives:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    width = BUCKETS[report.period.bucket] / timedelta(days=1) * 0.9  # matplotlib dates count in days
    bottom = [0.0] * len(starts)
    for creative_id in creatives:
        shares = [share or 0.0 for share, _ in series[creative_id]]
        ax.bar(starts, shares, width=width, bottom=bottom, align="edge", label=creative_id)
        bottom = [b + s for b, s in zip(bottom, shares)]
    ax.set_ylim(0, 1)
    ax.set_xlim(starts[0], starts[-1] + BUCKETS[report.period.bucket])
    ax.set_ylabel("share of impressions")
    ax.set_title(f"Traffic share per creative (per {report.period.bucket}, {zone_label(report.period.zone)}; "
                 "empty: no impressions)")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.autofmt_xdate()
    return _png(plt, fig)


def click_through(report: SlotReport) -> Optional[bytes]:
    """Click-through per creative and bucket; buckets without impressions of a creative are gaps."""
    starts, creatives, series = _series(report)
    if not creatives:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    step = BUCKETS[report.period.bucket]
    for creative_id in creatives:
        values = [float("nan") if ctr is None else ctr for _, ctr in series[creative_id]]
        ax.plot([start + step / 2 for start in starts], values, marker="o", markersize=3, linewidth=1, label=creative_id)
    ax.set_ylabel("click-through")
    ax.yaxis.set_major_formatter(_percent_axis())
    ax.set_ylim(bottom=0)
    ax.set_xlim(starts[0], starts[-1] + step)
    ax.set_title(f"Click-through per creative (per {report.period.bucket}, {zone_label(report.period.zone)})")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.autofmt_xdate()
    return _png(plt, fig)


def posterior_intervals(report: SlotReport) -> Optional[bytes]:
    """Slot-wide posterior mean and 95% credible interval per creative, best first."""
    segment = report.segment("global")
    if not segment or not segment["creatives"]:
        return None
    rows = sorted(segment["creatives"], key=lambda c: (c["mean"], c["creative_id"]))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.32 * len(rows)))
    positions = list(range(len(rows)))
    means = [c["mean"] for c in rows]
    errors = [[c["mean"] - c["ci95"][0] for c in rows], [c["ci95"][1] - c["mean"] for c in rows]]
    colors = ["#2f6db5" if c["eligible"] else "#9aa5b1" for c in rows]
    ax.errorbar(means, positions, xerr=errors, fmt="none", ecolor=colors, elinewidth=4, alpha=0.6)
    ax.scatter(means, positions, color="#1d2733", zorder=3, s=14)
    labels = [c["creative_id"] + ("" if c["eligible"] else " (not eligible)") for c in rows]
    ax.set_yticks(positions, labels)
    ax.set_xlabel("click rate: posterior mean and 95% credible interval (global)")
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(_percent_axis())
    return _png(plt, fig)


def lift_interval(report: SlotReport) -> Optional[bytes]:
    """Lift over holdout with its 95% interval, to date and in the period."""
    rows = [(name, lift) for name, lift in (("to date", report.lift_to_date), ("in period", report.lift_in_period))
            if lift and lift.get("lift") is not None and lift.get("ci")]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.45 * len(rows)))
    for position, (_, lift) in enumerate(rows):
        low, high = lift["ci"]
        ax.plot([low, high], [position, position], linewidth=5, color="#2f6db5", alpha=0.6)
        ax.scatter([lift["lift"]], [position], color="#1d2733", zorder=3, s=16)
    ax.axvline(0, color="#b3261e", linewidth=1)
    ax.xaxis.set_major_formatter(_percent_axis())
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("lift of click-through over holdout (0 = no difference), 95% interval")
    return _png(plt, fig)


def _percent_axis():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)


def _png(plt, fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
