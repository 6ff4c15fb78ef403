"""Write a slot report: one self-contained HTML file (figures as base64 PNG) and CSV files of its numbers."""
from __future__ import annotations

import base64
import csv
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from app.insights.plots import figures
from app.insights.report_data import SlotReport
from app.service.slot_zone import zone_label

CSV_FILES = ("traffic.csv", "posteriors.csv", "cities.csv", "lift.csv", "savings.csv")


def write_report(report: SlotReport, out_dir: Path) -> List[Path]:
    """report.html and the CSV files into out_dir (created when missing); the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _csv(out_dir / "traffic.csv", ("bucket_start", "creative_id", "impressions", "clicks", "share", "ctr"),
             ((start.isoformat(), cid, imp, clicks, _num(share), _num(ctr))
              for start, cid, imp, clicks, share, ctr in report.period.series())),
        _csv(out_dir / "posteriors.csv", ("segment", "decided_by", "creative_id", "impressions", "clicks", "alpha",
                                          "beta", "mean", "ci95_low", "ci95_high", "p_best", "eligible",
                                          "effective_impressions", "effective_clicks"),
             _posterior_rows(report)),
        _csv(out_dir / "cities.csv", ("city", "impressions", "clicks", "ctr", "decided_by", "best_creative",
                                      "best_mean", "best_ci95_low", "best_ci95_high", "best_p_best"),
             ((r["city"], r["impressions"], r["clicks"], _num(r["ctr"]), r["decided_by"], r["best_creative"] or "",
               _num(r["best_mean"]), _num(r["best_ci95"] and r["best_ci95"][0]),
               _num(r["best_ci95"] and r["best_ci95"][1]), _num(r["best_p_best"])) for r in report.city_rows())),
        _csv(out_dir / "lift.csv", ("scope", "bandit_impressions", "bandit_clicks", "holdout_impressions",
                                    "holdout_clicks", "treated_ctr", "holdout_ctr", "lift", "ci_low", "ci_high"),
             _lift_rows(report)),
        _csv(out_dir / "savings.csv", ("day", "impressions", "non_performer_impressions",
                                       "uniform_non_performer_impressions", "saved_share", "gain", "gain_ci95_low",
                                       "gain_ci95_high", "non_performers"),
             _savings_rows(report)),
    ]
    html = out_dir / "report.html"
    html.write_text(render_html(report), encoding="utf-8")
    return [html] + written


def render_html(report: SlotReport) -> str:
    """The report as one HTML document with its figures embedded."""
    images = {name: base64.b64encode(png).decode("ascii") if png else None for name, png in figures(report).items()}
    env = Environment(loader=PackageLoader("app.insights", "templates"), autoescape=select_autoescape(["html"]))
    template = env.get_template("report.html")
    return template.render(report=report, period=report.period, images=images, cities=report.city_rows(),
                           global_segment=report.segment("global"), pct=_pct, num=_fmt,
                           zone=zone_label(report.period.zone))


def _posterior_rows(report: SlotReport) -> Iterable[Sequence]:
    for segment in report.stats["segments"]:
        for c in segment["creatives"]:
            yield (segment["segment"], segment["decided_by"], c["creative_id"], c["impressions"], c["clicks"],
                   c["alpha"], c["beta"], c["mean"], c["ci95"][0], c["ci95"][1], _num(c["p_best"]), c["eligible"],
                   c["effective_impressions"], c["effective_clicks"])


def _lift_rows(report: SlotReport) -> Iterable[Sequence]:
    for scope, lift in (("to_date", report.lift_to_date), ("period", report.lift_in_period)):
        if lift is None:
            continue
        ci = lift.get("ci") or (None, None)
        yield (scope, lift["bandit"]["impressions"], lift["bandit"]["clicks"], lift["holdout"]["impressions"],
               lift["holdout"]["clicks"], _num(lift["treated_ctr"]), _num(lift["holdout_ctr"]), _num(lift["lift"]),
               _num(ci[0]), _num(ci[1]))


def _savings_rows(report: SlotReport) -> Iterable[Sequence]:
    """One row per day of the slot's zone, then the whole period ('total')."""
    rows = list(report.savings_by_day) + ([("total", report.savings)] if report.savings else [])
    for day, s in rows:
        names = sorted({f"{g['segment']}/{c}" for g in s["segments"] for c in g["non_performers"]})
        yield (day if isinstance(day, str) else day.isoformat(), s["impressions"], s["non_performer_impressions"],
               _num(s["uniform_non_performer_impressions"]), _num(s["saved_share"]), _num(s["gain"]["value"]),
               _num(s["gain"]["ci95"][0]), _num(s["gain"]["ci95"][1]), " ".join(names))


def _csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _num(value: Optional[float]) -> str:
    """A number for CSV: empty when absent, otherwise up to 6 decimals."""
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _pct(value: Optional[float], digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:{'+' if signed else ''}.{digits}f}%"


def _fmt(value: Optional[float], digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
