"""The drift acceptance run: a slot with a half-life and one without, through a real service in real time.

Both slots hold four creatives; the first (by id) is best (10 % against 3 %) until --change-after,
then drops to 1 % while the second rises to 10 %. Visitors of the two slots are sent side by side
at --rate each, and each slot's table shows per period the share of the best and of the new best,
and the regret. Passes (exit 0) when the half-life slot showed the new best creative to at least
60 % of the visitors of the last 40 s.
"""
from __future__ import annotations

import secrets
import sys
import threading
from contextlib import ExitStack

import click

from app.cli.http_drift import run_http_drift
from app.settings import Settings
from benchmarks.decisions import BenchError, bench_settings, ensure_cassandra
from benchmarks.live_server import LiveServer

CREATIVES = ("banner-a", "banner-b", "banner-c", "banner-d")
TARGET_SHARE = 0.6
LAST_S = 40.0


def prepare(settings: Settings, half_life_s: int) -> str:
    """Schema, a tenant and its two slots; returns the tenant's key."""
    from app.storage import TenantStore
    from app.storage.db import Database
    from app.storage.schema import apply_schema

    apply_schema(settings, log=lambda message: None)
    db = Database(settings)
    db.connect()
    try:
        name = f"drift-{secrets.token_hex(4)}"
        key = TenantStore(db).create(name)
        for slot_id, half_life in (("discounted", half_life_s), ("plain", None)):
            db.execute("INSERT INTO slots (tenant, platform, slot_id, half_life_s) VALUES (?, 'web', ?, ?)",
                       (name, slot_id, half_life))
            for creative_id in CREATIVES:
                db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, image_url, payload, active) "
                           "VALUES (?, 'web', ?, ?, ?, '{}', true)",
                           (name, slot_id, creative_id, f"https://img.example/{creative_id}.png"))
        return key
    finally:
        db.shutdown()


@click.command()
@click.option("--duration", type=float, default=240.0, show_default=True, help="Seconds of the run.")
@click.option("--change-after", type=float, default=120.0, show_default=True, help="Seconds before the change.")
@click.option("--rate", type=float, default=15.0, show_default=True, help="Visitors per second per slot.")
@click.option("--half-life", type=click.IntRange(1, 86_400), default=60, show_default=True,
              help="half_life_s of the discounted slot.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seeds the visitors' clicks.")
def main(duration: float, change_after: float, rate: float, half_life: int, seed: int) -> None:
    """Drift acceptance: a half-life slot must show the new best to >= 60 % of the last 40 s."""
    log = lambda message: click.echo(f"drift: {message}", err=True)  # noqa: E731
    try:
        settings = bench_settings("slotbandit_drift")
    except BenchError as error:
        raise click.UsageError(str(error)) from None
    with ExitStack() as cleanup:
        try:
            ensure_cassandra(settings, log, cleanup)
        except BenchError as error:
            click.echo(f"drift: {error}", err=True)
            sys.exit(1)
        key = prepare(settings, half_life)
        server = LiveServer(settings, workers=2).start()
        cleanup.callback(server.stop)
        results = {}

        def run(slot_id: str) -> None:
            results[slot_id] = run_http_drift(server.url, key, slot_id, "web", seed, change_after, duration, rate,
                                              20.0, progress=lambda m: log(f"{slot_id}: {m.strip()}"))[0]

        threads = [threading.Thread(target=run, args=(slot,)) for slot in ("discounted", "plain")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    shares = {}
    for slot_id, recorder in results.items():
        label = f"half_life_s {half_life}" if slot_id == "discounted" else "no half-life"
        click.echo(recorder.format_table(f"\nslot {slot_id} ({label})"))
        shares[slot_id] = recorder.share_of_rising(duration - LAST_S)
        click.echo(f"new best shown to {shares[slot_id]:.1%} of the visitors of the last {LAST_S:g} s")
    passed = shares.get("discounted", 0.0) >= TARGET_SHARE
    click.echo(f"\n{'PASS' if passed else 'FAIL'}: half-life slot {shares.get('discounted', 0.0):.1%} "
               f"(target >= {TARGET_SHARE:.0%}), plain slot {shares.get('plain', 0.0):.1%}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
