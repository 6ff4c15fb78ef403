"""``slotbandit export-training`` and ``slotbandit segments fit|show|clear``: training rows anchored at
decisions, and the feature segment models fitted on them."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Optional

import click

from app.clock import MOMENT_HELP
from app.cli.common import CliError, connect, load_settings, window

HORIZON_HELP = "Label horizon: revenue earned this long after each decision (7d, 36h, 3600s)."


def _say(message: str) -> None:
    click.echo(f"  {message}", err=True)


def _scope(since: str, until: Optional[str], horizon: str, **fields):
    """The export scope from the options; one line for bad input."""
    from app.jobs.training_rows import Scope, TrainingError, parse_horizon

    now = datetime.now(timezone.utc)
    try:
        horizon_s = parse_horizon(horizon)
        lookback_s = parse_horizon(fields.pop("lookback"), "--lookback") if "lookback" in fields else None
    except TrainingError as error:
        raise CliError(str(error)) from None
    start, end = window(since, until, now)
    extra = {"lookback_s": lookback_s} if lookback_s else {}
    return Scope(since=start, until=end, horizon_s=horizon_s, **fields, **extra)


def _rows(scope):
    """Every training row of the scope, read now (progress on stderr)."""
    from app.jobs.training_rows import TrainingError, training_rows

    db = connect(load_settings())
    try:
        return list(training_rows(db, scope, progress=_say))
    except TrainingError as error:
        raise CliError(str(error)) from None
    finally:
        db.shutdown()


@click.command("export-training")
@click.option("--horizon", default="7d", show_default=True, help=HORIZON_HELP)
@click.option("--since", required=True, help=f"First decision time: {MOMENT_HELP}.")
@click.option("--until", default=None, help="End of the decisions (exclusive); default now.")
@click.option("--tenant", default=None, help="Only this tenant (default: every tenant).")
@click.option("--platform", default=None, help="Only slots of this platform.")
@click.option("--slot", "slot_id", default=None, help="Only this slot id.")
@click.option("--final-only", is_flag=True, help="Leave out decisions whose horizon has not closed yet.")
@click.option("--lookback", default="90d", show_default=True,
              help="How far before a decision its country, sign-in and last session are looked for.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True,
              help="csv (a header row, times in ISO 8601) or parquet (typed columns).")
@click.option("--out", required=True, help="The file to write (must not exist).")
def export_training(horizon: str, since: str, until: Optional[str], tenant: Optional[str], platform: Optional[str],
                    slot_id: Optional[str], final_only: bool, lookback: str, fmt: str, out: str) -> None:
    """Write one row per decision: the customer's features as they were at decision time, the offer
    shown with its propensity, and the revenue it earned over the next HORIZON.

    Features use only events that happened before the decision and had been received by then, so
    nothing later leaks in. Labels follow the attribution rules (split credit, repeats, refunds);
    label_final is false while a decision's horizon is still open. Columns: see the README.

    \b
      slotbandit export-training --horizon 7d --since 2026-11-01 --until 2026-11-15 \\
          --tenant demo --slot shop-offer --format parquet --out offers.parquet
    """
    from app.jobs.training_files import check_target, write_rows
    from app.jobs.training_rows import TrainingError

    try:
        check_target(out)
    except TrainingError as error:
        raise CliError(str(error)) from None
    scope = _scope(since, until, horizon, tenant=tenant, platform=platform, slot_id=slot_id, final_only=final_only,
                   lookback=lookback)
    rows = _rows(scope)
    try:
        count = write_rows(rows, fmt, out)
    except TrainingError as error:
        raise CliError(str(error)) from None
    final = sum(1 for r in rows if r["label_final"])
    click.echo(f"wrote {count} rows to {out} ({final} with a final label, {count - final} still open)")


@click.group("segments")
def segments_group() -> None:
    """Feature segments of a slot: a shallow tree on user features, fitted on exported history.

    A decision with a customer_id and no segment= then decides and counts in the customer's leaf
    'feature:<leaf>' (pooled toward the slot-wide posterior). Tenants still name segments with segment=.
    """


def _slot_options(command):
    for option in reversed((
        click.option("--tenant", required=True, help="Tenant of the slot."),
        click.option("--platform", required=True, help="Platform of the slot."),
        click.option("--slot", "slot_id", required=True, help="The slot id."),
    )):
        command = option(command)
    return command


@segments_group.command("fit")
@_slot_options
@click.option("--since", required=True, help=f"First decision of the history: {MOMENT_HELP}.")
@click.option("--until", default=None, help="End of the history (exclusive); default now.")
@click.option("--horizon", default="7d", show_default=True, help=HORIZON_HELP)
@click.option("--max-depth", type=click.IntRange(1, 3), default=2, show_default=True, help="Depth of the tree (1-3).")
@click.option("--min-leaf", type=click.IntRange(1, None), default=50, show_default=True,
              help="Fewest decisions per segment.")
@click.option("--dry-run", is_flag=True, help="Print the segments without storing the model.")
def segments_fit(tenant: str, platform: str, slot_id: str, since: str, until: Optional[str], horizon: str,
                 max_depth: int, min_leaf: int, dry_run: bool) -> None:
    """Fit the slot's segments on its decisions with a closed horizon and store the model.

    The tree's targets are each offer's revenue weighted by 1/propensity, so it splits customers
    where the best offer differs. The service uses a new model within a few seconds.

    \b
      slotbandit segments fit --tenant demo --platform android --slot shop-offer --since 30d --dry-run
    """
    from app.storage.segment_models import SegmentModelStore
    from bandit.segmenter import SegmenterConfig, SegmenterError, fit_segments

    scope = _scope(since, until, horizon, tenant=tenant, platform=platform, slot_id=slot_id, final_only=True)
    rows = [dict(r, offer=r["creative_id"], label=r["revenue"]) for r in _rows(scope)]
    try:
        model = fit_segments(rows, SegmenterConfig(max_depth=max_depth, min_leaf=min_leaf))
    except SegmenterError as error:
        raise CliError(f"cannot fit segments: {error}") from None
    _print_model(model)
    if len(model["leaves"]) == 1:
        raise CliError("no split separates customers whose best offer differs: nothing stored "
                       "(use more history or a smaller --min-leaf)")
    if dry_run:
        click.echo("dry run: the model is not stored")
        return
    db = connect(load_settings())
    try:
        SegmentModelStore(db).save(tenant, platform, slot_id, model, datetime.now(timezone.utc))
    finally:
        db.shutdown()
    click.echo(f"stored the segment model of {tenant}/{platform}/{slot_id} ({len(model['leaves'])} segments)")


@segments_group.command("show")
@_slot_options
def segments_show(tenant: str, platform: str, slot_id: str) -> None:
    """Print the slot's stored segment model: rules, segment sizes, best offer per segment."""
    stored = _stored(tenant, platform, slot_id)
    click.echo(f"segment model of {tenant}/{platform}/{slot_id}, fitted {stored.fitted_at:%Y-%m-%d %H:%M} UTC "
               f"on {stored.rows} decisions")
    _print_model(stored.model)


@segments_group.command("clear")
@_slot_options
def segments_clear(tenant: str, platform: str, slot_id: str) -> None:
    """Delete the slot's model: decisions stop using feature segments within a few seconds."""
    from app.storage.segment_models import SegmentModelStore

    _stored(tenant, platform, slot_id)
    db = connect(load_settings())
    try:
        SegmentModelStore(db).delete(tenant, platform, slot_id)
    finally:
        db.shutdown()
    click.echo(f"deleted the segment model of {tenant}/{platform}/{slot_id}")


def _stored(tenant: str, platform: str, slot_id: str):
    from app.storage.segment_models import SegmentModelStore

    db = connect(load_settings())
    try:
        stored = SegmentModelStore(db).load(tenant, platform, slot_id)
    finally:
        db.shutdown()
    if stored is None:
        raise CliError(f"{tenant}/{platform}/{slot_id} has no segment model: run `slotbandit segments fit`")
    return stored


def _print_model(model) -> None:
    from bandit.segmenter import describe, leaf_table

    for line in describe(model):
        click.echo(line)
    click.echo("")
    click.echo(f"{'segment':<12} {'rows':>7}  {'best offer':<14} rule")
    for segment, rows, best, rule in leaf_table(model):
        click.echo(f"{segment:<12} {rows:>7}  {str(best):<14} {rule}")
    sys.stdout.flush()

