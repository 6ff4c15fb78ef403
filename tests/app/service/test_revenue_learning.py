"""Through the real service: a revenue slot learns the offer that earns most, a click slot the one
that is clicked most, on the same simulated shoppers.

Shoppers (seeded): "flashy" (0.99) is clicked by 30% and bought by 20% of those who click;
"premium" (19.99) is clicked by 10% and bought by 25%. Revenue per impression: flashy
0.3 x 0.2 x 0.99 = 0.059, premium 0.1 x 0.25 x 19.99 = 0.50; clicks per impression: 0.30 vs 0.10.
"""
import random
from datetime import datetime, timezone

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VISITS = 500
OFFERS = {"flashy": (0.99, 0.30, 0.20), "premium": (19.99, 0.10, 0.25)}  # price, p(click), p(buy | click)


def _configure(db, tenant, slot_id, objective):
    tenant.add_slot(slot_id, creatives=tuple(OFFERS))
    db.execute("UPDATE slots SET objective = ? WHERE tenant = ? AND platform = 'web' AND slot_id = ?",
               (objective, tenant.name, slot_id))
    for creative_id, (price, _, _) in OFFERS.items():
        db.execute("UPDATE creatives SET offer_type = 'pack', price = ? WHERE tenant = ? AND platform = 'web' "
                   "AND slot_id = ? AND creative_id = ?", (price, tenant.name, slot_id, creative_id))


def _run(client, tenant, slot_id, seed):
    """VISITS shoppers through the API; (offers shown in order, revenue earned)."""
    rng = random.Random(seed)
    shown, revenue = [], 0.0
    for visit in range(VISITS):
        customer = f"{slot_id}-shopper-{visit}"
        answer = client.get(f"/slot/{slot_id}/creative", query_string={"platform": "web", "customer_id": customer},
                            headers=tenant.headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        decision = answer.get_json()
        offer = decision["creative"]["creative_id"]
        shown.append(offer)
        price, p_click, p_buy = OFFERS[offer]
        if rng.random() >= p_click:
            continue
        assert client.post("/click", json={"decision_id": decision["decision_id"]},
                           headers=tenant.headers).status_code == 202
        if rng.random() < p_buy:
            revenue += price
            event = {"event_id": f"{customer}-buy", "event": "purchase", "customer_id": customer,
                     "session_id": "s", "event_time": datetime.now(timezone.utc).isoformat(),
                     "txn_amount": price, "sku": offer}
            assert client.post("/events", json=[event], headers=tenant.headers).get_json()["accepted"] == 1
    return shown, revenue


def test_the_revenue_objective_earns_more_than_the_click_objective(client, db, tenant):
    _configure(db, tenant, "by-revenue", "revenue")
    _configure(db, tenant, "by-clicks", "clicks")
    shown_revenue, earned_revenue = _run(client, tenant, "by-revenue", seed=7)
    shown_clicks, earned_clicks = _run(client, tenant, "by-clicks", seed=7)
    late = VISITS // 2
    premium_share_revenue = shown_revenue[late:].count("premium") / (VISITS - late)
    premium_share_clicks = shown_clicks[late:].count("premium") / (VISITS - late)
    # Tolerances: after 250 shoppers the revenue slot has seen ~10 premium and ~4 flashy purchases,
    # enough for P(premium is best) > 0.95 under its posteriors, so it shows premium to most of the
    # second half; the click slot has ~50 clicks and a 0.30 vs 0.10 click rate, so it shows flashy.
    assert premium_share_revenue >= 0.7, premium_share_revenue
    assert premium_share_clicks <= 0.3, premium_share_clicks
    # Expected revenue of the second half: >= 0.7 x 0.5 x 250 = 87 against <= (0.3 x 0.5 + 0.7 x 0.059) x 250 = 48.
    assert earned_revenue > 1.3 * earned_clicks, (earned_revenue, earned_clicks)


def test_stats_of_a_revenue_slot_show_each_offer_s_value(client, db, tenant, runtime):
    _configure(db, tenant, "stats-revenue", "revenue")
    _configure(db, tenant, "stats-clicks", "clicks")
    _run(client, tenant, "stats-revenue", seed=3)
    assert runtime.writer.flush(timeout_s=10)  # the last write interval's impressions count too
    stats = client.get("/slot/stats-revenue/stats", query_string={"platform": "web"}, headers=tenant.headers)
    assert stats.status_code == 200
    body = stats.get_json()
    assert body["objective"] == "revenue"
    rows = {row["creative_id"]: row for row in body["segments"][0]["creatives"]}
    premium, flashy = rows["premium"]["revenue"], rows["flashy"]["revenue"]
    # True values per impression 0.50 vs 0.059 (module docstring); after 500 shoppers the posteriors
    # separate them clearly, and the amount posterior sits near the price actually paid.
    assert premium["value"] > 3 * flashy["value"], (premium, flashy)
    assert premium["p_best"] > 0.95
    assert abs(premium["amount"] - 19.99) < 1.0 and abs(flashy["amount"] - 0.99) < 0.1
    assert premium["value_ci95"][0] < premium["value"] < premium["value_ci95"][1]
    assert all(0.0 <= r[k] <= 1.0 for r in (premium, flashy) for k in ("purchase_rate", "refund_rate", "p_best"))
    clicks = client.get("/slot/stats-clicks/stats", query_string={"platform": "web"}, headers=tenant.headers)
    assert clicks.get_json()["objective"] == "clicks"
    assert all("revenue" not in row for row in clicks.get_json()["segments"][0]["creatives"])


def test_a_paused_offer_keeps_its_revenue_in_the_stats(client, db, tenant, runtime):
    _configure(db, tenant, "paused-offer", "revenue")
    for visit in range(100):  # until each offer has sold once (Thompson shows both early on)
        customer = f"paused-shopper-{visit}"
        decision = client.get("/slot/paused-offer/creative", query_string={"platform": "web", "customer_id": customer},
                              headers=tenant.headers).get_json()
        offer = decision["creative"]["creative_id"]
        assert client.post("/click", json={"decision_id": decision["decision_id"]},
                           headers=tenant.headers).status_code == 202
        event = {"event_id": f"{customer}-buy", "event": "purchase", "customer_id": customer, "session_id": "s",
                 "event_time": datetime.now(timezone.utc).isoformat(), "txn_amount": OFFERS[offer][0], "sku": offer}
        assert client.post("/events", json=[event], headers=tenant.headers).get_json()["accepted"] == 1
        stats = client.get("/slot/paused-offer/stats", query_string={"platform": "web"}, headers=tenant.headers)
        if all(row["revenue"]["purchases"] > 0 for row in stats.get_json()["segments"][0]["creatives"]):
            break
    assert runtime.writer.flush(timeout_s=10)

    def rows():
        body = client.get("/slot/paused-offer/stats", query_string={"platform": "web"}, headers=tenant.headers)
        assert body.status_code == 200
        return {row["creative_id"]: row for row in body.get_json()["segments"][0]["creatives"]}
    before = rows()
    assert before["flashy"]["revenue"]["purchases"] > 0
    db.execute("UPDATE creatives SET active = false WHERE tenant = ? AND platform = 'web' AND slot_id = ? "
               "AND creative_id = 'flashy'", (tenant.name, "paused-offer"))
    after = rows()
    flashy = after["flashy"]
    assert flashy["eligible"] is False and flashy["p_best"] is None
    for key in ("purchases", "gross", "purchase_rate", "refund_rate", "amount"):  # exact: counts and posterior means
        assert flashy["revenue"][key] == before["flashy"]["revenue"][key], key
    # value is a Monte Carlo mean over the policy's draws (another set of offers draws another stream): the
    # same within a few percent.
    assert flashy["revenue"]["value"] == pytest.approx(before["flashy"]["revenue"]["value"], rel=0.05)
    assert flashy["revenue"]["p_best"] is None
    # The only eligible offer is the best among the eligible ones for certain.
    assert after["premium"]["eligible"] is True and after["premium"]["revenue"]["p_best"] == 1.0
