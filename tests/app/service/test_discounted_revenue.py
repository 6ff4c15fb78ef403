"""Revenue slots with a half-life against the real Cassandra: purchases, refunds and amounts count in
the time bucket of their decision, exactly once like the all-time totals, and are discounted like
the decision's click in snapshots and stats."""
import time
from datetime import datetime, timezone

import pytest

from app.service.runtime import read_snapshot
from app.storage.revenue import LabelWrite, RevenueStore
from bandit.discount import bucket_start, bucket_width_s

pytestmark = pytest.mark.integration

DAY = 86_400
HALF_LIFE = 3600  # 900 s buckets: a test's decisions share one or two


@pytest.fixture
def shop(tenant, runtime):
    """A revenue slot 'shop' with two priced offers and a half-life."""
    tenant.add_slot("shop", creatives=("small", "big"))
    tenant.db.execute("UPDATE slots SET objective = 'revenue', horizon_s = ?, half_life_s = ? WHERE tenant = ? "
                      "AND platform = 'web' AND slot_id = 'shop'", (7 * DAY, HALF_LIFE, tenant.name))
    for creative_id, price in (("small", 1.99), ("big", 9.99)):
        tenant.db.execute("UPDATE creatives SET offer_type = 'gems', price = ? WHERE tenant = ? AND platform = 'web' "
                          "AND slot_id = 'shop' AND creative_id = ?", (price, tenant.name, creative_id))
    runtime.slots.invalidate((tenant.name, "web", "shop"))
    return tenant


def decide(client, tenant, customer):
    query = {"platform": "web", "customer_id": customer, "city": "pune"}
    answer = client.get("/slot/shop/creative", query_string=query, headers=tenant.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def pay(client, tenant, event_id, kind, customer, amount=None):
    event = {"event_id": event_id, "event": kind, "customer_id": customer, "session_id": "s1",
             "event_time": datetime.now(timezone.utc).isoformat(), "sku": "gems-pack"}
    if amount is not None:
        event["txn_amount"] = amount
    answer = client.post("/events", json=[event], headers=tenant.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def bucket_totals(runtime, tenant, since=0):
    """{(bucket, segment, creative): (purchases, refunds, gross, gross_sq)} of the slot's bucket rows."""
    rows = RevenueStore(runtime.db).bucket_totals(tenant.name, "web", "shop", since)
    return {(b, s, c): values for b, s, c, *values in rows}


def test_purchases_refunds_and_amounts_count_in_the_decisions_bucket_exactly_once(client, runtime, shop):
    decisions = {customer: decide(client, shop, customer) for customer in ("u1", "u2")}
    for customer, decision in decisions.items():
        assert client.post("/click", json={"decision_id": decision["decision_id"]},
                           headers=shop.headers).status_code == 202
    pay(client, shop, "p1", "purchase", "u1", 10.0)
    pay(client, shop, "p2", "purchase", "u2", 4.0)
    pay(client, shop, "r2", "refund", "u2", 1.0)
    pay(client, shop, "p1", "purchase", "u1", 10.0)  # a resent payment changes nothing
    runtime.writer.flush()
    expected = {}
    for customer, amount, refunded_share in (("u1", 10.0, 0.0), ("u2", 4.0, 0.25)):
        token = runtime.signer.verify(decisions[customer]["decision_id"])
        bucket = bucket_start(token.issued_ms / 1000, bucket_width_s(HALF_LIFE))
        for segment in token.segments:
            key = (bucket, segment, token.creative_id)
            before = expected.get(key, (0.0, 0.0, 0.0, 0.0))
            expected[key] = tuple(b + v for b, v in zip(before, (1.0, refunded_share, amount, amount * amount)))
    got = bucket_totals(runtime, shop)
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        assert got[key] == pytest.approx(values)
    # Summed over buckets, the bucket rows are the all-time totals.
    totals = RevenueStore(runtime.db).totals(shop.name, "web", "shop")
    for (segment, creative_id), values in totals.items():
        summed = [sum(v[i] for (_, s, c), v in got.items() if (s, c) == (segment, creative_id)) for i in range(4)]
        assert summed == pytest.approx(list(values[:4]))


def test_revenue_is_discounted_with_the_weight_of_its_decisions_clicks(client, runtime, shop):
    decision = decide(client, shop, "u3")
    assert client.post("/click", json={"decision_id": decision["decision_id"]}, headers=shop.headers).status_code == 202
    pay(client, shop, "p3", "purchase", "u3", 8.0)
    runtime.writer.flush()
    creative_id = decision["creative"]["creative_id"]
    later = time.time() + 2 * HALF_LIFE  # the decision is two half-lives old
    discounted = read_snapshot(runtime.db, shop.name, "web", "shop", half_life_s=HALF_LIFE, now_s=later)
    raw = read_snapshot(runtime.db, shop.name, "web", "shop")
    clicks = discounted.counts("global", creative_id).clicks / raw.counts("global", creative_id).clicks
    # One bucket, one weight: w = 0.5^(age of the bucket's middle / h); the middle is 2 h -+ 450 s old
    # (450 s = half a bucket, 1/8 of a half-life), depending on where in its bucket the decision fell.
    assert 0.5 ** (2 + 1 / 8 + 0.01) <= clicks <= 0.5 ** (2 - 1 / 8)
    effective, all_time = discounted.revenue_totals("global", creative_id), raw.revenue_totals("global", creative_id)
    assert all_time.purchases == pytest.approx(1.0) and all_time.gross == pytest.approx(8.0)
    assert effective.purchases == pytest.approx(clicks * all_time.purchases)
    assert effective.gross == pytest.approx(clicks * all_time.gross)
    assert effective.gross_sq == pytest.approx(clicks * all_time.gross_sq)


def label(decision, creative_id, bucket, purchases=1.0, gross=10.0):
    return LabelWrite(decision, creative_id, ("global",), (purchases, 0.0, gross, gross * gross, 0.0), False, DAY,
                      bucket)


def test_stats_show_effective_purchases_beside_the_all_time_ones(client, runtime, shop):
    store, now = RevenueStore(runtime.db), int(time.time())
    width = bucket_width_s(HALF_LIFE)
    # "big" sold two half-lives ago, "small" sells now
    store.apply(shop.name, "web", "shop", [label("d1", "big", bucket_start(now - 2 * HALF_LIFE, width), 2.0, 20.0),
                                           label("d2", "small", bucket_start(now, width), 1.0, 2.0)])
    stats = client.get("/slot/shop/stats?platform=web", headers=shop.headers).get_json()
    offers = {c["creative_id"]: c["revenue"] for c in stats["segments"][0]["creatives"]}
    assert (offers["big"]["purchases"], offers["big"]["gross"]) == (2.0, 20.0)
    # the bucket's middle is 2 h - 7.5 min to 2 h + 7.5 min old (where now falls in its bucket)
    weight = (0.5 ** ((2 * HALF_LIFE + width / 2) / HALF_LIFE), 0.5 ** ((2 * HALF_LIFE - width / 2) / HALF_LIFE))
    assert 2.0 * weight[0] <= offers["big"]["effective_purchases"] <= 2.0 * weight[1]
    assert 20.0 * weight[0] <= offers["big"]["effective_gross"] <= 20.0 * weight[1]
    assert offers["small"]["purchases"] == 1.0
    assert 0.5 ** (width / HALF_LIFE) <= offers["small"]["effective_purchases"] <= 1.0
    shop.db.execute("UPDATE slots SET half_life_s = null WHERE tenant = ? AND platform = 'web' AND slot_id = 'shop'",
                    (shop.name,))
    plain = client.get("/slot/shop/stats?platform=web", headers=shop.headers).get_json()
    offers = {c["creative_id"]: c["revenue"] for c in plain["segments"][0]["creatives"]}
    assert offers["big"]["effective_purchases"] == offers["big"]["purchases"] == 2.0


def test_a_label_moved_to_another_bucket_leaves_the_old_one_and_old_buckets_stay_as_they_are(runtime, shop):
    store, now = RevenueStore(runtime.db), int(time.time())
    first, second = now - now % 900 - 1800, now - now % 900 - 900
    store.apply(shop.name, "web", "shop", [label("d1", "big", first)])
    assert bucket_totals(runtime, shop) == {(first, "global", "big"): [1.0, 0.0, 10.0, 100.0]}
    # the half-life changed: the same label now belongs to another bucket
    assert store.apply(shop.name, "web", "shop", [label("d1", "big", second)]) == 1
    assert bucket_totals(runtime, shop) == {(first, "global", "big"): [0.0, 0.0, 0.0, 0.0],
                                            (second, "global", "big"): [1.0, 0.0, 10.0, 100.0]}
    # buckets older than the first kept are neither taken from nor added to; the all-time totals move
    store.apply(shop.name, "web", "shop", [label("d1", "big", first, 3.0, 30.0)], first_kept=second + 900)
    assert bucket_totals(runtime, shop)[(second, "global", "big")] == [1.0, 0.0, 10.0, 100.0]
    assert store.totals(shop.name, "web", "shop")[("global", "big")][:3] == pytest.approx((3.0, 0.0, 30.0))
