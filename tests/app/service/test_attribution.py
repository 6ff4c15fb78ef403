"""Revenue labels kept by the service (real Cassandra): clicks, purchases, refunds, resends, races."""
import threading
from datetime import datetime, timedelta, timezone

import pytest

from app.service import attribution
from app.storage.revenue import RevenueStore

pytestmark = pytest.mark.integration

DAY = 86_400


@pytest.fixture
def offers(tenant, db):
    """A revenue slot 'shop' with two offers and a click slot 'banner'."""
    tenant.add_slot("shop", creatives=("small", "big"))
    db.execute("UPDATE slots SET objective = 'revenue', horizon_s = ? WHERE tenant = ? AND platform = 'web' "
               "AND slot_id = 'shop'", (7 * DAY, tenant.name))
    for creative_id, price in (("small", 1.99), ("big", 9.99)):
        db.execute("UPDATE creatives SET offer_type = 'gems', price = ? WHERE tenant = ? AND platform = 'web' "
                   "AND slot_id = 'shop' AND creative_id = ?", (price, tenant.name, creative_id))
    tenant.add_slot("banner")
    return tenant


def decide(client, tenant, slot="shop", **params):
    answer = client.get(f"/slot/{slot}/creative", query_string={"platform": "web", **params},
                        headers=tenant.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def click(client, tenant, decision, **body):
    answer = client.post("/click", json={"decision_id": decision["decision_id"], **body}, headers=tenant.headers)
    assert answer.status_code in (200, 202), answer.get_data(as_text=True)
    return answer.status_code


def pay(client, tenant, event_id, kind, customer="u1", amount=None, sku="gems-pack", when=None):
    event = {"event_id": event_id, "event": kind, "customer_id": customer, "session_id": "s1",
             "event_time": (when or datetime.now(timezone.utc)).isoformat(), "sku": sku}
    if amount is not None:
        event["txn_amount"] = amount
    answer = client.post("/events", json=[event], headers=tenant.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def totals(runtime, tenant, slot="shop"):
    return RevenueStore(runtime.db).totals(tenant.name, "web", slot)


def test_offers_are_served_with_their_type_and_price(client, offers):
    creative = decide(client, offers, customer_id="u1")["creative"]
    assert (creative["offer_type"], creative["price"]) == ("gems", {"small": 1.99, "big": 9.99}[creative["creative_id"]])
    assert "price" not in decide(client, offers, slot="banner")["creative"]


def test_two_clicked_decisions_share_a_purchase_and_a_refund_exactly(client, runtime, offers):
    first, second = decide(client, offers, customer_id="u1"), decide(client, offers, customer_id="u1")
    click(client, offers, first)             # the customer comes from the signed decision id
    click(client, offers, second, customer_id="u1")
    pay(client, offers, "p1", "purchase", amount=10.0)
    found = totals(runtime, offers)
    # global rows: each decision got credit 0.5 and 5.0 of revenue (per creative, summed).
    assert sum(v[0] for (segment, _), v in found.items() if segment == "global") == pytest.approx(1.0)
    assert sum(v[2] for (segment, _), v in found.items() if segment == "global") == pytest.approx(10.0)
    for creative in {first["creative"]["creative_id"], second["creative"]["creative_id"]}:
        shares = sum(1 for d in (first, second) if d["creative"]["creative_id"] == creative)
        assert found[("global", creative)][2] == pytest.approx(5.0 * shares)
    pay(client, offers, "r1", "refund", amount=4.0)
    found = totals(runtime, offers)
    assert sum(v[4] for (segment, _), v in found.items() if segment == "global") == pytest.approx(4.0)
    assert sum(v[1] for (segment, _), v in found.items() if segment == "global") == pytest.approx(0.4)


def test_resent_payments_and_repeated_recomputation_change_nothing(client, runtime, offers):
    decision = decide(client, offers, customer_id="u2")
    click(client, offers, decision)
    answer = pay(client, offers, "p2", "purchase", customer="u2", amount=4.99)
    assert answer["accepted"] == 1
    before = totals(runtime, offers)
    assert pay(client, offers, "p2", "purchase", customer="u2", amount=4.99)["duplicates"] == 1
    assert attribution.update_customer(runtime, offers.name, "u2") == 0
    assert totals(runtime, offers) == before
    creative = decision["creative"]["creative_id"]
    assert before[("global", creative)] == pytest.approx((1.0, 0.0, 4.99, 4.99 ** 2, 0.0))


def test_a_purchase_before_the_click_or_in_a_click_slot_earns_nothing(client, runtime, offers):
    decision = decide(client, offers, customer_id="u3")
    pay(client, offers, "p3", "purchase", customer="u3", amount=3.0)
    click(client, offers, decision)
    banner = decide(client, offers, slot="banner", customer_id="u3")
    click(client, offers, banner, customer_id="u3")
    pay(client, offers, "p4", "purchase", customer="u3", amount=3.0, sku="other")
    assert totals(runtime, offers, "banner") == {}
    # p4 joins the shop decision (clicked before it, window open); p3 came before the click.
    assert sum(v[2] for (segment, _), v in totals(runtime, offers).items() if segment == "global") == pytest.approx(3.0)


def test_labels_turn_final_and_freeze_after_the_window(client, runtime, offers):
    decision = decide(client, offers, customer_id="u4")
    click(client, offers, decision)
    pay(client, offers, "p5", "purchase", customer="u4", amount=2.0)
    store = RevenueStore(runtime.db)
    nonce = attribution.read_unverified(decision["decision_id"]).nonce
    pk = (offers.name, "web", "shop")
    assert store._labels(pk, [nonce])[nonce][1] is False
    later = datetime.now(timezone.utc) + timedelta(days=7, minutes=1)
    assert attribution.update_customer(runtime, offers.name, "u4", now=later) == 1  # only 'final' changed
    assert store._labels(pk, [nonce])[nonce] == ((1.0, 0.0, 2.0, 4.0, 0.0), True, None)  # no half-life: no bucket
    frozen = datetime.now(timezone.utc) + timedelta(days=7 + 8)
    assert attribution.update_customer(runtime, offers.name, "u4", now=frozen) == 0


def test_racing_ingestion_of_many_payments_counts_each_once(client, runtime, offers):
    decision = decide(client, offers, customer_id="u5")
    click(client, offers, decision)
    amounts = [1.0 + i for i in range(12)]
    threads = [threading.Thread(target=pay, args=(client, offers, f"race-{i}", "purchase"),
                                kwargs={"customer": "u5", "amount": amount, "sku": f"sku-{i}"})
               for i, amount in enumerate(amounts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    creative = decision["creative"]["creative_id"]
    purchases, _, gross, gross_sq, _ = totals(runtime, offers)[("global", creative)]
    assert (purchases, gross) == (pytest.approx(12.0), pytest.approx(sum(amounts)))
    assert gross_sq == pytest.approx(sum(a * a for a in amounts))


def test_attribute_command_rebuilds_lost_revenue_state(client, runtime, offers, cli, db):
    decision = decide(client, offers, customer_id="u6")
    click(client, offers, decision)
    pay(client, offers, "p6", "purchase", customer="u6", amount=6.5)
    pay(client, offers, "r6", "cancellation", customer="u6")
    expected = totals(runtime, offers)
    db.execute("DELETE FROM revenue_state WHERE tenant = ? AND platform = 'web' AND slot_id = 'shop'", (offers.name,))
    assert totals(runtime, offers) == {}
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    result = cli("attribute", "--tenant", offers.name, "--since", since)
    assert result.exit_code == 0, result.output
    assert "customers: 1  labels changed: 1" in result.output
    assert totals(runtime, offers) == expected
    again = cli("attribute", "--tenant", offers.name, "--since", since)
    assert "labels changed: 0" in again.output


def test_attribute_command_explains_bad_input(cli, offers):
    assert "--slot needs --platform" in cli("attribute", "--tenant", offers.name, "--since", "2026-01-01",
                                            "--slot", "shop").output
    result = cli("attribute", "--tenant", "nobody-here", "--since", "2026-01-01")
    assert result.exit_code != 0 and "no slot with objective 'revenue'" in result.output
    assert "must be before --until" in cli("attribute", "--tenant", offers.name, "--since", "2026-01-02",
                                       "--until", "2026-01-01").output
