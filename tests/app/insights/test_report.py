"""``slotbandit report`` on real data: a simulated run of demo-world visitors through the app, then the
report read back from the real Cassandra and checked against what the visitors did and against
GET /slot/<id>/stats (the report must show the very numbers the API shows)."""
import base64
import csv
import re
import secrets
from datetime import datetime, timezone

import pytest

from bandit.sim import demo_world
from bandit.lift import lift_over_holdout
from tests.app.insights.insights_data import add_counts, simulate_visitors
from tests.app.api.test_dashboard_api import log_impressions
from tests.app.cli.test_tenants import assert_one_line_error
from tests.conftest import TenantHandle

pytestmark = pytest.mark.integration

VISITORS = 300


@pytest.fixture(scope="module")
def simulated(app, runtime):
    """A tenant whose home-banner slot (the ten demo banners) saw VISITORS simulated visitors."""
    name = f"rep-{secrets.token_hex(4)}"
    tenant = TenantHandle(runtime.db, name, runtime.tenants.create(name))
    tenant.add_slot("home-banner", creatives=demo_world().creative_ids)
    run = simulate_visitors(app.test_client(), runtime, tenant, "home-banner", VISITORS)
    return tenant, run


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_of_a_simulated_run_matches_the_visitors_and_the_stats_endpoint(cli, simulated, client, tmp_path):
    tenant, run = simulated
    out = tmp_path / "home"
    result = cli("report", "--tenant", tenant.name, "--slot", "home-banner", "--since", "2h", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(out / name) for name in
                                     ("report.html", "traffic.csv", "posteriors.csv", "cities.csv", "lift.csv", "savings.csv")]
    assert re.search(r"event log: (\d+)/\1 hours read", result.stderr), result.stderr
    assert f"event log: {VISITORS + run.clicks} events in the period" in result.stderr

    traffic = read_csv(out / "traffic.csv")
    assert sum(int(r["impressions"]) for r in traffic) == VISITORS
    assert sum(int(r["clicks"]) for r in traffic) == run.clicks
    for creative_id, (impressions, clicks) in run.by_creative.items():
        rows = [r for r in traffic if r["creative_id"] == creative_id]
        assert (sum(int(r["impressions"]) for r in rows), sum(int(r["clicks"]) for r in rows)) == (impressions, clicks)
    for start in {r["bucket_start"] for r in traffic}:
        shares = [float(r["share"]) for r in traffic if r["bucket_start"] == start and r["share"]]
        assert not shares or abs(sum(shares) - 1) < 1e-4  # shares are rounded to 6 significant digits

    stats = client.get("/slot/home-banner/stats?platform=web", headers=tenant.headers).get_json()
    posteriors = read_csv(out / "posteriors.csv")
    expected = [(s["segment"], c["creative_id"], c["impressions"], c["clicks"], c["mean"], c["ci95"], c["p_best"])
                for s in stats["segments"] for c in s["creatives"]]
    got = [(r["segment"], r["creative_id"], int(r["impressions"]), int(r["clicks"]), float(r["mean"]),
            [float(r["ci95_low"]), float(r["ci95_high"])], float(r["p_best"]) if r["p_best"] else None)
           for r in posteriors]
    assert got == expected

    cities = {r["city"]: r for r in read_csv(out / "cities.csv")}
    assert set(cities) == set(run.by_city)
    segments = {s["segment"]: s for s in stats["segments"]}
    for city, (impressions, clicks) in run.by_city.items():
        row = cities[city]
        assert (int(row["impressions"]), int(row["clicks"])) == (impressions, clicks)
        best = max(segments[f"city:{city}"]["creatives"], key=lambda c: (c["mean"], c["creative_id"]))
        assert (row["best_creative"], float(row["best_mean"])) == (best["creative_id"], best["mean"])
    assert read_csv(out / "lift.csv") == []

    html = (out / "report.html").read_text()
    images = re.findall(r'id="([a-z-]+)" alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert [name for name, _ in images] == ["traffic-share", "click-through", "posteriors"]
    for _, data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "No holdout data" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # self-contained: nothing to fetch
    assert f"<b>{VISITORS}</b> impressions, <b>{run.clicks}</b> clicks" in html
    for city in run.by_city:
        assert f"<td>{city}</td>" in html


def test_report_shows_lift_over_holdout_from_the_holdout_segment(cli, tenant, tmp_path):
    """Holdout impressions count in 'global' and in 'holdout'; bandit counts are global minus holdout."""
    tenant.add_slot("promo", creatives=["a", "b"])
    for segment in ("global", "holdout"):
        add_counts(tenant.db, tenant, "promo", segment, "a", 100, 3)
        add_counts(tenant.db, tenant, "promo", segment, "b", 100, 3)
    add_counts(tenant.db, tenant, "promo", "global", "a", 500, 40)
    add_counts(tenant.db, tenant, "promo", "global", "b", 300, 14)
    result = cli("report", "--tenant", tenant.name, "--slot", "promo", "--since", "1d", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    expected = lift_over_holdout(54, 800, 6, 200)
    (row,) = read_csv(tmp_path / "lift.csv")
    assert (row["scope"], row["bandit_impressions"], row["bandit_clicks"]) == ("to_date", "800", "54")
    assert (row["holdout_impressions"], row["holdout_clicks"]) == ("200", "6")
    assert float(row["lift"]) == pytest.approx(expected.lift, rel=1e-5)
    assert float(row["ci_low"]) == pytest.approx(expected.ci_low, rel=1e-5)
    html = (tmp_path / "report.html").read_text()
    assert 'id="lift-plot"' in html and "No holdout data" not in html
    assert f"{expected.lift * 100:+.1f}%" in html  # +125.0%
    assert "No impressions in the period." in html  # the counters were written directly, the event log is empty


def test_report_lift_in_the_period_follows_the_policy_of_each_decision(cli, runtime, tenant, tmp_path):
    """Holdout impressions are logged with policy 'holdout'; their clicks carry no policy and belong to
    the decision (same nonce). The lift in the period is computed from the event log alone."""
    tenant.add_slot("promo", creatives=["a", "b"])
    log_impressions(runtime, tenant, "promo", {"a": 30, "b": 20}, clicks={"a": 4, "b": 1})
    log_impressions(runtime, tenant, "promo", {"a": 10, "b": 10}, clicks={"a": 1}, policy="holdout")
    result = cli("report", "--tenant", tenant.name, "--slot", "promo", "--since", "1h", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    (row,) = read_csv(tmp_path / "lift.csv")  # no holdout segment in the counters: only the period
    expected = lift_over_holdout(5, 50, 1, 20)
    assert [row[k] for k in ("scope", "bandit_impressions", "bandit_clicks", "holdout_impressions",
                             "holdout_clicks")] == ["period", "50", "5", "20", "1"]
    assert float(row["lift"]) == pytest.approx(expected.lift, rel=1e-5)
    assert float(row["ci_high"]) == pytest.approx(expected.ci_high, rel=1e-5)


@pytest.mark.parametrize("paused", [False, True])
def test_report_of_a_revenue_slot_shows_its_attributed_purchases(cli, client, tenant, tmp_path, paused):
    tenant.add_slot("shop", creatives=["gems"])
    tenant.db.execute("UPDATE slots SET objective = 'revenue' WHERE tenant = ? AND platform = 'web' AND slot_id = ?",
                      (tenant.name, "shop"))
    tenant.db.execute("UPDATE creatives SET offer_type = 'gems', price = 4.99 WHERE tenant = ? AND platform = 'web' "
                      "AND slot_id = 'shop' AND creative_id = 'gems'", (tenant.name,))
    decision = client.get("/slot/shop/creative", query_string={"platform": "web", "customer_id": "p-1"},
                          headers=tenant.headers).get_json()
    assert client.post("/click", json={"decision_id": decision["decision_id"]}, headers=tenant.headers).status_code == 202
    purchase = {"event_id": "buy-1", "event": "purchase", "customer_id": "p-1", "session_id": "s",
                "event_time": datetime.now(timezone.utc).isoformat(), "txn_amount": 4.99, "sku": "gems"}
    assert client.post("/events", json=[purchase], headers=tenant.headers).get_json()["accepted"] == 1
    if paused:  # a paused offer keeps its purchases in the report, marked
        tenant.set_creative("shop", "gems", active=False)
    assert cli("report", "--tenant", tenant.name, "--slot", "shop", "--since", "1d",
               "--out", str(tmp_path)).exit_code == 0
    html = (tmp_path / "report.html").read_text()
    assert 'id="revenue-table"' in html and "no revenue is recorded" not in html
    table = html[html.index('id="revenue-table"'):]
    row = table[table.index("<td>gems (not eligible)</td>" if paused else "<td>gems</td>"):]
    assert '<td class="num">1.0000</td><td class="num">4.9900</td>' in row[:200], row[:200]


def test_report_of_a_revenue_slot_says_no_revenue_is_recorded(cli, tenant, tmp_path):
    tenant.add_slot("offers", creatives=["a"])
    tenant.db.execute("UPDATE slots SET objective = 'revenue' WHERE tenant = ? AND platform = 'web' AND slot_id = ?",
                      (tenant.name, "offers"))
    assert cli("report", "--tenant", tenant.name, "--slot", "offers", "--since", "1d",
               "--out", str(tmp_path)).exit_code == 0
    html = (tmp_path / "report.html").read_text()
    assert "objective revenue" in html and "no revenue is recorded for its decisions yet" in html


@pytest.mark.parametrize("args, fragment", [
    (["--since", "yesterday"], "--since must be"),
    (["--since", "1h", "--until", "2h"], "must be before --until"),
    (["--since", "2020-01-01"], "longer than 400 days"),
])
def test_report_refuses_a_bad_period_in_one_line(cli, tenant, args, fragment):
    assert_one_line_error(cli("report", "--tenant", tenant.name, "--slot", "home", *args), fragment)


def test_report_of_an_unknown_tenant_or_slot_is_one_line(cli, tenant, tmp_path):
    assert_one_line_error(cli("report", "--tenant", "nobody-here", "--slot", "home", "--since", "1d"),
                          "unknown tenant 'nobody-here'")
    assert_one_line_error(cli("report", "--tenant", tenant.name, "--slot", "nope", "--since", "1d",
                              "--out", str(tmp_path / "r")), "unknown slot 'nope'")
    assert not (tmp_path / "r").exists()


def test_the_report_of_a_half_life_slot_states_it_and_shows_effective_counts(cli, app, runtime, make_tenant, tmp_path):
    tenant = make_tenant("rephl")
    tenant.add_slot("home-banner", creatives=demo_world().creative_ids)
    tenant.db.execute("UPDATE slots SET half_life_s = 600 WHERE tenant = ? AND platform = 'web' "
                      "AND slot_id = 'home-banner'", (tenant.name,))
    simulate_visitors(app.test_client(), runtime, tenant, "home-banner", 60)
    out = tmp_path / "hl"
    result = cli("report", "--tenant", tenant.name, "--slot", "home-banner", "--since", "2h", "--out", str(out))
    assert result.exit_code == 0, result.output
    html = (out / "report.html").read_text()
    assert "Half-life in force: 600 s" in html and "effective impressions" in html
    rows = read_csv(out / "posteriors.csv")
    global_rows = [r for r in rows if r["segment"] == "global"]
    assert sum(int(r["impressions"]) for r in global_rows) == 60
    # 600 s half-life, 150 s buckets: a bucket is weighed at the middle of its elapsed part, at most 75 s
    # old plus the few seconds of the run, so every weight lies in [0.5^(90/600), 1]
    effective = sum(float(r["effective_impressions"]) for r in global_rows)
    assert 60 * 0.5 ** (90 / 600) <= effective <= 60
