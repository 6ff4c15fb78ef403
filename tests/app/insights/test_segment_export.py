"""``slotbandit export-segments``: the best creative per segment and per customer, as CSV, from a
simulated run through the app and from counters written directly; checked against GET /slot/<id>/stats."""
import csv
import io
import secrets
from datetime import datetime, timedelta, timezone

import pytest

from bandit.sim import demo_world
from tests.app.insights.insights_data import add_counts, simulate_visitors
from tests.app.cli.test_tenants import assert_one_line_error
from tests.conftest import TenantHandle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def simulated(app, runtime):
    name = f"seg-{secrets.token_hex(4)}"
    tenant = TenantHandle(runtime.db, name, runtime.tenants.create(name))
    tenant.add_slot("home-banner", creatives=demo_world().creative_ids)
    run = simulate_visitors(app.test_client(), runtime, tenant, "home-banner", visitors=250, seed=5, customers=30)
    return tenant, run


def export(cli, tenant, *args, slot="home-banner"):
    result = cli("export-segments", "--tenant", tenant.name, "--slot", slot, "--out", "-", *args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout))), result.stderr


def stats_segments(client, tenant, slot="home-banner"):
    body = client.get(f"/slot/{slot}/stats?platform=web", headers=tenant.headers).get_json()
    return {s["segment"]: s for s in body["segments"]}


# P(best) is a Monte Carlo estimate from 20,000 joint draws (app.service.slot_stats.P_BEST_DRAWS) with standard
# error <= sqrt(0.25 / 20000) = 0.0035; the export and the stats endpoint draw independently (the endpoint
# shares one generator across segments), so their difference has standard error <= 0.005, and 0.02 is
# four of those. Means and intervals are exact and must be equal.
P_BEST_TOLERANCE = 0.02


@pytest.mark.parametrize("rank_by", ["mean", "p_best"])
def test_best_per_segment_is_what_the_stats_endpoint_ranks_first(cli, client, simulated, rank_by):
    tenant, run = simulated
    rows, stderr = export(cli, tenant, "--rank-by", rank_by)
    segments = stats_segments(client, tenant)
    assert [r["segment"] for r in rows] == ["global"] + sorted(f"city:{c}" for c in run.by_city)
    assert f"{len(rows)} segments written to standard output (ranked by {rank_by})" in stderr
    for row in rows:
        eligible = {c["creative_id"]: c for c in segments[row["segment"]]["creatives"] if c["eligible"]}
        chosen = eligible[row["creative_id"]]
        if rank_by == "mean":
            assert chosen["mean"] == max(c["mean"] for c in eligible.values()), row
        else:
            assert chosen["p_best"] >= max(c["p_best"] for c in eligible.values()) - P_BEST_TOLERANCE, row
        assert float(row["mean"]) == chosen["mean"]
        assert float(row["p_best"]) == pytest.approx(chosen["p_best"], abs=P_BEST_TOLERANCE)
        assert [float(row["ci95_low"]), float(row["ci95_high"])] == chosen["ci95"]
        assert (int(row["impressions"]), int(row["clicks"])) == (chosen["impressions"], chosen["clicks"])
        assert row["decided_by"] == segments[row["segment"]]["decided_by"] and row["rank_by"] == rank_by


def test_best_per_customer_seen_in_the_period(cli, simulated):
    tenant, run = simulated
    per_segment = {r["segment"]: r["creative_id"] for r in export(cli, tenant)[0]}
    rows, stderr = export(cli, tenant, "--customers", "--since", "1h")
    assert [r["customer_id"] for r in rows] == sorted(run.customers)
    for row in rows:
        city = run.customers[row["customer_id"]]  # the city of the customer's latest visit
        assert (row["city"], row["segment"]) == (city, f"city:{city}")
        assert row["creative_id"] == per_segment[f"city:{city}"]
    assert f"{len(rows)} customers written" in stderr
    before, _ = export(cli, tenant, "--customers", "--since", "3h", "--until", "2h")
    assert before == []


def test_paused_and_city_restricted_creatives(cli, tenant):
    tenant.add_slot("offers", creatives=["a", "b", "c"], cities={"c": {"pune"}})
    for segment, counts in (("global", {"a": (1000, 90), "b": (1000, 50), "c": (200, 40)}),
                            ("city:pune", {"a": (100, 5), "b": (100, 5), "c": (200, 40)}),
                            ("city:delhi", {"a": (300, 30), "b": (300, 10)})):
        for creative_id, (impressions, clicks) in counts.items():
            add_counts(tenant.db, tenant, "offers", segment, creative_id, impressions, clicks)
    rows = {r["segment"]: r["creative_id"] for r in export(cli, tenant, slot="offers")[0]}
    # c has the best rate but is shown in Pune only: it never wins global or Delhi.
    assert rows == {"global": "a", "city:delhi": "a", "city:pune": "c"}
    tenant.set_creative("offers", "a", active=False)
    rows = {r["segment"]: r["creative_id"] for r in export(cli, tenant, slot="offers")[0]}
    assert rows == {"global": "b", "city:delhi": "b", "city:pune": "c"}
    # Flights: b's has ended, so it is no longer anybody's best; a is back, but only in its hours.
    tenant.set_creative("offers", "a", active=True)
    tenant.db.execute("UPDATE creatives SET ends_at = ? WHERE tenant = ? AND platform = 'web' AND slot_id = 'offers' "
                      "AND creative_id = 'b'", (datetime.now(timezone.utc) - timedelta(hours=1), tenant.name))
    rows = {r["segment"]: r["creative_id"] for r in export(cli, tenant, slot="offers")[0]}
    assert rows == {"global": "a", "city:delhi": "a", "city:pune": "c"}
    elsewhere = (datetime.now(timezone.utc).hour + 12) % 24
    tenant.db.execute("UPDATE creatives SET hours = ? WHERE tenant = ? AND platform = 'web' AND slot_id = 'offers' "
                      "AND creative_id = 'a'", ({elsewhere}, tenant.name))
    rows = {r["segment"]: r["creative_id"] for r in export(cli, tenant, slot="offers")[0]}
    assert rows == {"city:pune": "c"}  # nothing can be shown in global or Delhi right now


def test_export_errors_are_one_line(cli, tenant, tmp_path):
    tenant.add_slot("home", creatives=["a"])
    base = ("export-segments", "--tenant", tenant.name, "--slot", "home")
    assert_one_line_error(cli(*base, "--out", "-", "--customers"), "--customers needs --since")
    assert_one_line_error(cli(*base, "--out", "-", "--since", "1d"), "--since and --until go with --customers")
    assert_one_line_error(cli("export-segments", "--tenant", tenant.name, "--slot", "nope", "--out",
                              str(tmp_path / "x.csv")), "unknown slot 'nope'")
    assert not (tmp_path / "x.csv").exists()
    written = cli(*base, "--out", str(tmp_path / "best.csv"))
    assert written.exit_code == 0 and (tmp_path / "best.csv").read_text().startswith("segment,decided_by,creative_id")
