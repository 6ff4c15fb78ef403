"""GET /slot/<id>/stats: counts, posterior, credible interval, probability of being best, referrers."""
import pytest
from scipy import stats as scipy_stats

pytestmark = pytest.mark.integration


def test_stats_match_counts_and_posterior(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b", "c"])
    chosen = []
    for i in range(30):
        body = client.get("/slot/home/creative?platform=web&city=pune", headers=tenant.headers).get_json()
        chosen.append(body["creative"]["creative_id"])
        if i % 3 == 0:
            client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers)
    runtime.writer.flush()
    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    assert stats["slot_id"] == "home" and stats["platform"] == "web"
    by_segment = {s["segment"]: s for s in stats["segments"]}
    assert set(by_segment) == {"global", "city:pune"}
    rows = {row["creative_id"]: row for row in by_segment["global"]["creatives"]}
    assert sum(row["impressions"] for row in rows.values()) == 30
    assert sum(row["clicks"] for row in rows.values()) == 10
    for cid, row in rows.items():
        assert row["impressions"] == chosen.count(cid)
        # Global posterior: Beta(1 + clicks, 1 + impressions - clicks).
        assert row["alpha"] == pytest.approx(1 + row["clicks"])
        assert row["beta"] == pytest.approx(1 + row["impressions"] - row["clicks"])
        assert row["mean"] == pytest.approx(row["alpha"] / (row["alpha"] + row["beta"]), abs=1e-6)
        low, high = scipy_stats.beta.ppf([0.025, 0.975], row["alpha"], row["beta"])
        assert row["ci95"] == pytest.approx([low, high], abs=1e-6)
    # P(best) is a Monte Carlo estimate over the eligible creatives: it sums to 1 up to rounding.
    assert sum(row["p_best"] for row in rows.values()) == pytest.approx(1.0, abs=2e-3)
    assert by_segment["city:pune"]["decided_by"] == "city:pune"


def test_stats_for_one_city(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    client.get("/slot/home/creative?platform=web&city=delhi", headers=tenant.headers)
    client.get("/slot/home/creative?platform=web&city=pune", headers=tenant.headers)
    runtime.writer.flush()
    stats = client.get("/slot/home/stats?platform=web&city=Pune", headers=tenant.headers).get_json()
    assert [s["segment"] for s in stats["segments"]] == ["global", "city:pune"]
    assert stats["segments"][1]["creatives"][0]["impressions"] == 1


def test_stats_by_referrer(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    for referrer, clicked in (("google", True), ("google", False), ("mail", False)):
        body = client.get(f"/slot/home/creative?platform=web&referrer={referrer}", headers=tenant.headers).get_json()
        if clicked:
            client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers)
    runtime.writer.flush()
    stats = client.get("/slot/home/stats?platform=web&by=referrer", headers=tenant.headers).get_json()
    by_referrer = {r["referrer"]: r for r in stats["referrers"]}
    assert (by_referrer["google"]["impressions"], by_referrer["google"]["clicks"], by_referrer["google"]["ctr"]) == (
        2, 1, 0.5)
    assert (by_referrer["mail"]["impressions"], by_referrer["mail"]["clicks"], by_referrer["mail"]["ctr"]) == (
        1, 0, 0.0)


def test_inactive_creative_keeps_its_history_but_is_not_eligible(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    for _ in range(10):
        client.get("/slot/home/creative?platform=web", headers=tenant.headers)
    runtime.writer.flush()
    tenant.set_creative("home", "b", active=False)
    runtime.slots.invalidate((tenant.name, "web", "home"))
    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    rows = {row["creative_id"]: row for row in stats["segments"][0]["creatives"]}
    assert rows["b"]["eligible"] is False and rows["b"]["p_best"] is None
    assert rows["a"]["p_best"] == 1.0
