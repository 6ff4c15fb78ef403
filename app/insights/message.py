"""The summary of a slot report that goes out by webhook and e-mail: one text, and Slack blocks of it.

The payload is what a Slack incoming webhook takes, ``{"text": ..., "blocks": [...]}`` (``text`` is
the notification and the fallback of clients without blocks); e-mail sends the same text.
Numbers come from the report (``SlotReport``), never computed a second time.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from app.insights.report_data import SlotReport
from app.service.slot_zone import zone_label

MAX_BLOCK_TEXT = 2900  # Slack's limit for a section's text is 3,000 characters


def _pct(value: Optional[float], digits: int = 1, signed: bool = False) -> str:
    return "-" if value is None else f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def leading_creative(report: SlotReport) -> Optional[Dict[str, Any]]:
    """The eligible creative with the highest slot-wide posterior mean (ties: the smaller id)."""
    segment = report.segment("global") or {"creatives": []}
    eligible = [c for c in segment["creatives"] if c["eligible"]]
    ranked = sorted(eligible, key=lambda c: (-c["mean"], c["creative_id"]))
    return ranked[0] if ranked else None


def summary_lines(report: SlotReport, alerts: Sequence[str] = ()) -> List[str]:
    """The message as lines: title, traffic and comparison, saved traffic, leader, alerts."""
    period, zone = report.period, zone_label(report.period.zone)
    slot = f"{report.tenant}/{report.platform}/{report.slot.slot_id}"
    lines = [f"slotbandit report: {slot}, {period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} {zone}"]
    ctr = period.clicks / period.impressions if period.impressions else None
    traffic = f"{period.impressions} impressions, {period.clicks} clicks, click-through {_pct(ctr, 2)}"
    if report.lift_in_period:
        lift = report.lift_in_period
        traffic += (f" against {_pct(lift['holdout_ctr'], 2)} in the holdout group "
                    f"(lift {_pct(lift['lift'], 1, True)})")
    elif report.savings and report.savings["impressions"] and report.savings["metric"] == "clicks":
        uniform = report.savings["expected"]["uniform"] / report.savings["impressions"]
        traffic += f" against {_pct(uniform, 2)} expected from a uniform split"
    lines.append(traffic)
    lines.append(saved_line(report.savings))
    leader = leading_creative(report)
    if leader is not None:
        lines.append(f"Leading creative: {leader['creative_id']} (click-through {_pct(leader['mean'], 2)}, "
                     f"P(best) {_pct(leader['p_best'], 0)})")
    for alert in alerts:
        lines.append(f"Alert: {alert}")
    return lines


def saved_line(savings: Optional[Dict[str, Any]]) -> str:
    if not savings or savings["saved_share"] is None:
        return "Saved traffic: no creative is a clear non-performer yet"
    unit = "revenue" if savings["metric"] == "revenue" else "clicks"
    gain, (low, high) = savings["gain"]["value"], savings["gain"]["ci95"]
    return (f"Saved traffic: {_pct(savings['saved_share'], 0)} of what a uniform split would have given "
            f"non-performers ({savings['non_performer_impressions']} impressions instead of "
            f"{savings['uniform_non_performer_impressions']:.0f}); {gain:+.1f} {unit} over a uniform split "
            f"(95% interval {low:+.1f} to {high:+.1f})")


def webhook_payload(report: SlotReport, link: str, alerts: Sequence[str] = ()) -> Dict[str, Any]:
    """``{"text", "blocks"}`` for a Slack-compatible incoming webhook; link is a URL or a file path."""
    lines = summary_lines(report, alerts)
    text = "\n".join(lines + [f"Full report: {link}"])
    blocks: List[Dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": lines[0][:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[1:3])[:MAX_BLOCK_TEXT]}},
    ]
    if len(lines) > 3:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[3:])[:MAX_BLOCK_TEXT]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Full report: {link}"[:MAX_BLOCK_TEXT]}]})
    return {"text": text, "blocks": blocks}


def mail_subject(report: SlotReport, alerts: Sequence[str] = ()) -> str:
    saved = report.savings["saved_share"] if report.savings else None
    tail = f", {_pct(saved, 0)} saved" if saved is not None else ""
    warn = f" ({len(alerts)} alert{'s' if len(alerts) != 1 else ''})" if alerts else ""
    return f"slotbandit report {report.tenant}/{report.slot.slot_id}{tail}{warn}"
