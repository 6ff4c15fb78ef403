"""``slotbandit simulate`` and ``simulate-game``: synthetic traffic with known truth."""
from __future__ import annotations

from typing import Optional

import click

from app.cli.common import CliError, load_settings


@click.command("simulate")
@click.option("--visitors", "-n", type=click.IntRange(1, 1_000_000), default=5000, show_default=True)
@click.option("--url", default=None, help="Service URL (default http://127.0.0.1:SLOTBANDIT_PORT).")
@click.option("--api-key", envvar="SLOTBANDIT_API_KEY", required=True, help="Tenant key (or SLOTBANDIT_API_KEY).")
@click.option("--slot", default="home-banner", show_default=True)
@click.option("--platform", default="web", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--drift", is_flag=True, help="The drift scenario in real time: the slot's first creative (by id) is "
              "best (10%% against 3%%) until --change-after, then drops to 1%% while the second rises to 10%%.")
@click.option("--change-after", type=float, default=120.0, show_default=True, help="--drift: seconds before the change.")
@click.option("--duration", type=float, default=240.0, show_default=True, help="--drift: seconds of the whole run.")
@click.option("--rate", type=float, default=15.0, show_default=True, help="--drift: visitors per second.")
@click.option("--period", type=float, default=20.0, show_default=True, help="--drift: seconds per line of the table.")
def simulate(visitors: int, url: Optional[str], api_key: str, slot: str, platform: str, seed: int, drift: bool,
             change_after: float, duration: float, rate: float, period: float) -> None:
    """Send synthetic visitors with known click rates through the HTTP API and print what was learned.

    The visitors come from the demo world (cities with different best banners); point it at a slot
    that holds the demo banners (the demo tenant's home-banner).

    With --drift the best creative wears out half-way and another rises; the table shows, per
    period, the share of visitors shown the best creative and the new best, and the regret, for the
    slot's settings (its half_life_s and min_share, set with cqlsh).
    """
    from app.cli.http_simulation import SimulationError, run_http_simulation

    base = url or f"http://127.0.0.1:{load_settings().port}"
    if drift:
        _simulate_drift(base, api_key, slot, platform, seed, change_after, duration, rate, period)
        return
    try:
        report = run_http_simulation(base, api_key, slot, platform, visitors, seed,
                                     progress=lambda m: click.echo(m, err=True))
    except SimulationError as error:
        raise CliError(str(error)) from None
    click.echo(report.format_table())


def _simulate_drift(base: str, api_key: str, slot: str, platform: str, seed: int, change_after: float,
                    duration: float, rate: float, period: float) -> None:
    from app.cli.http_drift import run_http_drift
    from app.cli.http_simulation import SimulationError

    if not 0 < change_after < duration <= 3600:
        raise CliError(f"--change-after must be in (0, --duration) and --duration at most 3600, but "
                       f"{change_after:g} and {duration:g} are given")
    if not 0 < rate <= 500 or not 0 < period <= duration:
        raise CliError(f"--rate must be in (0, 500] and --period in (0, --duration], but {rate:g} and {period:g} are given")
    click.echo(f"drift scenario on {slot!r}: {duration:g} s at {rate:g} visitors/s, change after {change_after:g} s",
               err=True)
    try:
        recorder, stats = run_http_drift(base, api_key, slot, platform, seed, change_after, duration, rate, period,
                                         progress=lambda m: click.echo(m, err=True))
    except SimulationError as error:
        raise CliError(str(error)) from None
    scenario = recorder.scenario
    click.echo(recorder.format_table(
        f"slot {slot}: half_life_s {stats.get('half_life_s')}, min_share {stats.get('min_share') or 0:g}; "
        f"{scenario.worn_out} wears out, {scenario.rising} rises"))
    last = min(40.0, duration - change_after)
    click.echo(f"new best shown to {recorder.share_of_rising(duration - last):.1%} of the visitors of the last {last:g} s")


@click.command("simulate-game")
@click.option("--customers", "-n", type=int, default=2000, show_default=True,
              help="Players in the simulated game (1 to 100,000).")
@click.option("--days", type=float, default=7.0, show_default=True,
              help="Simulated days of play (more than 0, at most 60).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the players, their visits and their luck: same seed, same table.")
def simulate_game(customers: int, days: float, seed: int) -> None:
    """Compare the revenue policy with the click policy and a uniform split on a simulated game.

    \b
    Players have a country, a Facebook sign-in or not, and a spend level that puts them in a
    segment (casual, regular, whale). The slot holds five offers; the best one differs by
    segment, one is clicked most but earns little (lucky-spin), one sells well but is mostly
    refunded (vip-pass). Purchases come hours to days after the click, refunds 1 to 3 days
    after the purchase, some purchases repeat.

    \b
    The same players, visits and luck meet each policy in turn:
      revenue   Thompson sampling on p(click) x p(purchase | click) x (1 - p(refund)) x amount,
                learning from attributed purchases as they arrive (delayed, provisional)
      clicks    Thompson sampling on clicks
      uniform   every offer equally often

    \b
    Prints one line per policy (impressions, clicks, purchases, refunded amount, net revenue
    = purchases - refunds paid within the days, and net revenue per segment), the offer each
    policy showed most per segment, and the revenue policy's margin over the others.

    \b
    Example:
      slotbandit simulate-game --customers 2000 --days 7 --seed 3
    """
    from bandit.sim.game import compare_policies

    if not 1 <= customers <= 100_000:
        raise CliError(f"--customers must be between 1 and 100000, but {customers} is given")
    if not 0 < days <= 60:
        raise CliError(f"--days must be more than 0 and at most 60, but {days:g} is given")
    click.echo(f"simulating {customers} players over {days:g} days (seed {seed}) under 3 policies", err=True)
    comparison = compare_policies(customers=customers, days=days, seed=seed,
                                  progress=lambda message: click.echo(message, err=True))
    click.echo(comparison.format_table())
