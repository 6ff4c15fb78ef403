"""POST /click: exactly once, signed ids, attribution window, tenant isolation."""
import threading
import time

import pytest

from app.decision_ids import DecisionSigner, DecisionToken

pytestmark = pytest.mark.integration


def decision(client, tenant, slot_id="home", **params):
    params.setdefault("platform", "web")
    answer = client.get(f"/slot/{slot_id}/creative", query_string=params, headers=tenant.headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def click(client, tenant, decision_id, **extra):
    return client.post("/click", json={"decision_id": decision_id, **extra}, headers=tenant.headers)


def global_clicks(runtime, tenant, slot_id="home"):
    counts = runtime.counts.read_slot(tenant.name, "web", slot_id).get("global", {})
    return {cid: c.clicks for cid, c in counts.items() if c.clicks}


def test_click_counts_once_and_duplicate_says_so(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    chosen = decision(client, tenant, city="pune", referrer="ads")
    first = click(client, tenant, chosen["decision_id"], customer_id="c1")
    again = click(client, tenant, chosen["decision_id"])
    assert (first.status_code, first.get_json()) == (202, {"status": "accepted"})
    assert (again.status_code, again.get_json()) == (200, {"status": "duplicate"})
    cid = chosen["creative"]["creative_id"]
    assert global_clicks(runtime, tenant) == {cid: 1}
    city = runtime.counts.read_slot(tenant.name, "web", "home")["city:pune"][cid]
    assert city.clicks == 1
    referrers = runtime.counts.read_referrers(tenant.name, "web", "home")
    assert referrers["ads"][cid].clicks == 1


def test_duplicate_flood_from_many_threads_counts_once(app, tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(app.test_client(), tenant)
    statuses, barrier = [], threading.Barrier(16)

    def hammer():
        client = app.test_client()
        barrier.wait()
        for _ in range(5):
            statuses.append(click(client, tenant, chosen["decision_id"]).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(statuses)) == [200, 202] and statuses.count(202) == 1 and len(statuses) == 80
    assert global_clicks(runtime, tenant) == {"a": 1}


def test_altered_or_forged_decision_ids_are_unknown(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    good = decision(client, tenant)["decision_id"]
    version, payload, signature = good.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    forged = DecisionSigner(b"some-other-secret-0000").sign(DecisionToken(
        tenant.name, "web", "home", "a", ("global",), int(time.time() * 1000), "nonce"))
    for bad in (f"{version}.{flipped}.{signature}", f"{version}.{payload}.{signature[:-1]}x", forged,
                "v1.abc.def", "not-a-decision"):
        answer = click(client, tenant, bad)
        assert answer.status_code == 404, bad
        assert answer.get_json()["error"]["code"] == "unknown_decision"
    assert global_clicks(runtime, tenant) == {}


def test_another_tenants_decision_is_404_and_not_counted(client, make_tenant, runtime):
    owner, other = make_tenant("owner"), make_tenant("other")
    owner.add_slot("home", creatives=["a"])
    other.add_slot("home", creatives=["a"])  # same slot name: the id must still not cross tenants
    chosen = decision(client, owner)
    answer = click(client, other, chosen["decision_id"])
    assert answer.status_code == 404
    assert answer.get_json() == click(client, other, "v1.x.y").get_json()
    assert global_clicks(runtime, owner) == {} and global_clicks(runtime, other) == {}
    assert click(client, owner, chosen["decision_id"]).status_code == 202


def test_click_after_the_attribution_window_is_410(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a"], attribution_window_s=60)
    old = runtime.signer.sign(DecisionToken(tenant.name, "web", "home", "a", ("global",),
                                            int((time.time() - 61) * 1000), DecisionToken.new_nonce()))
    answer = click(client, tenant, old)
    assert answer.status_code == 410
    assert answer.get_json()["error"]["code"] == "attribution_window_closed"
    fresh = runtime.signer.sign(DecisionToken(tenant.name, "web", "home", "a", ("global",),
                                              int((time.time() - 50) * 1000), DecisionToken.new_nonce()))
    assert click(client, tenant, fresh).status_code == 202
    assert global_clicks(runtime, tenant) == {"a": 1}


def test_click_is_in_the_event_log(client, tenant):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant, city="pune")
    click(client, tenant, chosen["decision_id"], customer_id="cust-7")
    clicks = [r for r in tenant.events("home") if r["kind"] == "click"]
    assert len(clicks) == 1
    assert (clicks[0]["customer_id"], clicks[0]["decision_id"], clicks[0]["city"]) == (
        "cust-7", chosen["decision_id"], "pune")
