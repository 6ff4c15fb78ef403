"""GET /slot/<id>/creative against the real Cassandra."""
from collections import Counter

import pytest

pytestmark = pytest.mark.integration


def decide(client, tenant, slot_id, **params):
    params.setdefault("platform", "web")
    return client.get(f"/slot/{slot_id}/creative", query_string=params, headers=tenant.headers)


def test_decision_has_the_contract_fields(client, tenant):
    tenant.add_slot("home", creatives=["a", "b"])
    answer = decide(client, tenant, "home", city="Pune")
    assert answer.status_code == 200
    body = answer.get_json()
    assert set(body) == {"decision_id", "slot_id", "platform", "creative", "segment", "policy", "propensity"}
    assert body["slot_id"] == "home" and body["platform"] == "web" and body["policy"] == "thompson"
    assert body["creative"]["creative_id"] in {"a", "b"}
    assert body["creative"]["payload"] == {"title": "t"}
    assert body["creative"]["image_url"].endswith(".png")
    assert 0 < body["propensity"] <= 1
    assert body["segment"] == "global"  # pune has no impressions yet: the slot-wide posterior decides


def test_inactive_creatives_are_never_shown(client, tenant):
    tenant.add_slot("home", creatives=["on", "off1", "off2"], inactive=["off1", "off2"])
    shown = {decide(client, tenant, "home").get_json()["creative"]["creative_id"] for _ in range(30)}
    assert shown == {"on"}


def test_city_limited_creatives_are_shown_only_in_their_cities(client, tenant):
    tenant.add_slot("home", creatives=["everywhere", "west"], cities={"west": {"mumbai", "pune"}})
    elsewhere = Counter(decide(client, tenant, "home", city="delhi").get_json()["creative"]["creative_id"]
                        for _ in range(30))
    no_city = Counter(decide(client, tenant, "home").get_json()["creative"]["creative_id"] for _ in range(30))
    in_pune = Counter(decide(client, tenant, "home", city="PUNE ").get_json()["creative"]["creative_id"]
                      for _ in range(60))
    assert set(elsewhere) == {"everywhere"} and set(no_city) == {"everywhere"}
    # With two arms at equal uniform posteriors each is chosen with p = 1/2: P(never "west" in 60) = 2^-60.
    assert in_pune["west"] > 0


def test_a_city_decides_on_its_own_posterior_once_it_has_impressions(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    first = decide(client, tenant, "home", city="nagpur").get_json()
    assert first["segment"] == "global"
    runtime.writer.flush()
    runtime.snapshots.invalidate((tenant.name, "web", "home"))
    assert decide(client, tenant, "home", city="nagpur").get_json()["segment"] == "city:nagpur"
    assert decide(client, tenant, "home", city="unknown-town").get_json()["segment"] == "global"
    assert decide(client, tenant, "home").get_json()["segment"] == "global"


def test_named_segment_is_counted_and_used(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    decide(client, tenant, "home", segment="vip", city="pune")
    runtime.writer.flush()
    runtime.snapshots.invalidate((tenant.name, "web", "home"))
    assert decide(client, tenant, "home", segment="vip").get_json()["segment"] == "segment:vip"
    stats = client.get("/slot/home/stats", query_string={"platform": "web"}, headers=tenant.headers).get_json()
    segments = {s["segment"] for s in stats["segments"]}
    assert {"global", "city:pune", "segment:vip"} <= segments


def test_impression_is_logged_with_customer_and_referrer(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    body = decide(client, tenant, "home", city="pune", customer_id="cust-42", referrer="newsletter").get_json()
    runtime.writer.flush()
    rows = tenant.events("home")
    assert len(rows) == 1
    row = rows[0]
    assert (row["kind"], row["customer_id"], row["referrer"], row["creative_id"], row["city"]) == (
        "impression", "cust-42", "newsletter", "a", "pune")
    assert row["decision_id"] == body["decision_id"] and row["policy"] == "thompson"
    assert row["propensity"] == pytest.approx(1.0)


def test_counts_follow_decisions(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b", "c"])
    chosen = Counter(decide(client, tenant, "home", city="pune").get_json()["creative"]["creative_id"]
                     for _ in range(40))
    runtime.writer.flush()
    counts = runtime.counts.read_slot(tenant.name, "web", "home")
    assert {cid: c.impressions for cid, c in counts["global"].items()} == dict(chosen)
    assert {cid: c.impressions for cid, c in counts["city:pune"].items()} == dict(chosen)


def test_unknown_slot_and_platform_are_404(client, tenant):
    tenant.add_slot("home", creatives=["a"])
    for slot_id, platform in (("nope", "web"), ("home", "android")):
        answer = decide(client, tenant, slot_id, platform=platform)
        assert answer.status_code == 404
        assert answer.get_json()["error"]["code"] == "unknown_slot"


def test_slot_without_eligible_creative_is_404(client, tenant):
    tenant.add_slot("home", creatives=["off"], inactive=["off"])
    answer = decide(client, tenant, "home")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "no_eligible_creative"


def test_after_the_first_decision_propensities_are_computed_off_the_request_path(client, tenant, runtime,
                                                                                  monkeypatch):
    """The Monte Carlo behind propensities runs when a snapshot reloads (app.service.prewarm), in the cache's
    refresh thread; only the very first decision of a slot computes it on the request thread."""
    import threading
    import time

    policy, threads = runtime.policy, []
    compute = type(policy)._compute_arms

    def counting(self, *args):
        threads.append(threading.current_thread().name)
        return compute(self, *args)

    monkeypatch.setattr(type(policy), "_compute_arms", counting)
    tenant.add_slot("warm", creatives=["a", "b", "c"])
    deadline = time.monotonic() + 3.0  # posteriors reload every 0.2 s in the tests, impressions land every 0.5 s
    while time.monotonic() < deadline:
        answer = decide(client, tenant, "warm", city="pune")
        assert answer.status_code == 200
        client.post("/click", json={"decision_id": answer.get_json()["decision_id"]}, headers=tenant.headers)
        time.sleep(0.02)
    on_requests = [name for name in threads if not name.startswith("refresh-")]
    assert len(on_requests) == 1, threads  # the first decision: no snapshot existed before it
    assert len(threads) > 2, threads  # counts changed and the reloads recomputed
