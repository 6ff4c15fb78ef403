"""``slotbandit ope`` and ``slotbandit export-log``: measure what the bandit earns, and what another
policy would have earned, from the propensity log."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional

import click

from app.clock import MOMENT_HELP
from app.cli.common import CliError, connect, load_settings, window

PROGRESS_EVERY_S = 2.0


@click.command("ope")
@click.option("--log", "log_path", required=True, type=click.Path(path_type=Path),
              help="The log: CSV, or Parquet when the name ends in .parquet or .pq.")
@click.option("--policy", "spec", required=True,
              help="uniform | most_popular | fixed:ACTION | thompson | thompson:priors=FILE[,strength=S]")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Bootstrap resamples behind each 95% interval.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the bootstrap and Thompson's Monte Carlo: same inputs, same output.")
def ope(log_path: Path, spec: str, n_bootstrap: int, seed: int) -> None:
    """Estimate what a candidate policy would have earned per decision, from a log of another policy.

    \b
    The log has one row per decision, with columns
      action       what was shown (creative_id)
      reward       what it earned (1 clicked, 0 not)
      propensity   probability that the logging policy showed it, in (0, 1]
      segment      optional: the context (city:pune, segment:vip; empty = global)
      position, timestamp and any other column are ignored.
    `slotbandit export-log` writes such a file. Rows whose propensity is outside (0, 1] are
    left out and counted in "warnings".

    \b
    SPEC, the candidate policy:
      uniform                every action equally often
      most_popular           always the action with the most reward in the log (the naive baseline)
      fixed:ACTION           always ACTION
      thompson               Thompson sampling on Beta(1, 1) priors updated with the log's counts,
                             each segment pooled toward the slot-wide posterior (strength fitted)
      thompson:priors=FILE   the same with per-action priors from a CSV with columns action, alpha, beta;
                             add ,strength=S to fix the pooling strength (e.g. thompson:strength=20)

    \b
    Prints one JSON object:
      {"policy": SPEC, "n": rows used,
       "estimates": {"ips": {"value": v, "ci95": [lo, hi]}, "snips": {...}, "dr": {...}},
       "warnings": [...]}
    IPS weights each logged reward by pi(action) / propensity; SNIPS divides by the sum of the
    weights instead of n; DR adds a reward model (mean reward per segment and action, fitted on the
    log) to IPS's correction. Intervals are percentile bootstraps over rows. Warnings also say when
    the log overlaps poorly with the policy (small effective sample size, large weights, or mass on
    actions the log never shows).

    \b
    Example:
      slotbandit export-log --since 2026-11-01T00:00:00Z --tenant demo --out log.csv
      slotbandit ope --log log.csv --policy most_popular
      slotbandit ope --log log.csv --policy thompson --bootstrap 2000 --seed 7
    """
    from app.measure.ope_input import OpeInputError, load_log, parse_spec
    from bandit.ope import evaluate_policy

    try:
        candidate = parse_spec(spec, seed)
        loaded = load_log(log_path)
    except OpeInputError as error:
        raise CliError(str(error)) from None
    if loaded.log is None:
        reasons = "; ".join(loaded.warnings) or "it has no rows"
        raise CliError(f"log file {log_path} has no usable row: {reasons}")
    click.echo(f"evaluating {spec} on {loaded.log.n} of {loaded.rows_read} rows with {n_bootstrap} bootstrap "
               "resamples", err=True)
    evaluation = evaluate_policy(loaded.log, candidate, n_bootstrap=n_bootstrap, seed=seed,
                                 progress=_every(PROGRESS_EVERY_S, "bootstrap"))
    click.echo(json.dumps({
        "policy": spec,
        "n": evaluation.n,
        "estimates": {name: estimate.as_dict() for name, estimate in evaluation.estimates.items()},
        "warnings": loaded.warnings + evaluation.warnings,
    }))


def _every(seconds: float, what: str) -> Callable[[int, int], None]:
    """A progress callback that prints 'what done/total' on stderr at most every ``seconds``."""
    last = [time.monotonic()]

    def report(done: int, total: int) -> None:
        if time.monotonic() - last[0] >= seconds:
            click.echo(f"{what} {done}/{total}", err=True)
            last[0] = time.monotonic()
    return report


@click.command("export-log")
@click.option("--since", required=True, help=f"First decision time, inclusive: {MOMENT_HELP}.")
@click.option("--until", default=None, help="End time, exclusive, in the same forms (default: now).")
@click.option("--tenant", default=None, help="Only this tenant's slots.")
@click.option("--slot", "slot_id", default=None, help="Only slots with this slot_id.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Default: parquet when --out ends in .parquet or .pq, else csv.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
def export_log(since: str, until: Optional[str], tenant: Optional[str], slot_id: Optional[str],
               fmt: Optional[str], out: Path) -> None:
    """Write the propensity log: one row per decision with its context, action, propensity and reward.

    \b
    Columns (README, "Measuring the bandit"):
      timestamp      decision time, ISO 8601 UTC
      tenant, platform, slot_id, decision_id
      segment        the context: segment:<s> when a named segment decided, else city:<c>, else global
      decided_by     the posterior that decided (global, city:<c>, segment:<s>) or holdout
      city, customer_id, referrer
      policy         thompson or holdout
      action         the creative shown
      propensity     probability that the policy showed it in that context
      reward         1 when the decision was clicked within the slot's attribution window, else 0
    The file feeds `slotbandit ope --log FILE` directly. Reads the event log of every slot in the
    `slots` table (or those selected), one partition per slot and hour.
    """
    from app.measure.propensity_log import ExportFilter, export
    from app.storage.log_export import DecisionLogStore

    start, end = window(since, until)
    if (end - start).days > 366:
        raise CliError("the time range is longer than 366 days: export it in parts")
    fmt = fmt or ("parquet" if out.suffix.lower() in (".parquet", ".pq") else "csv")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CliError("writing Parquet needs pyarrow: pip install 'slotbandit[parquet]'") from None
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: directory {out.parent} does not exist")
    store = DecisionLogStore(connect(load_settings()))
    count = export(store, ExportFilter(start, end, tenant, slot_id), out, fmt,
                   progress=lambda message: click.echo(message, err=True))
    click.echo(f"wrote {count} decisions to {out} ({fmt})")
