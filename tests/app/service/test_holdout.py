"""Holdout per slot against the real Cassandra: assignment, answers, event log, counts, lift in stats."""
import pytest

from bandit.holdout import holdout_point
from bandit.lift import lift_over_holdout

pytestmark = pytest.mark.integration


def set_holdout(tenant, runtime, slot_id, share, platform="web"):
    tenant.db.execute("UPDATE slots SET holdout_share = ? WHERE tenant = ? AND platform = ? AND slot_id = ?",
                      (share, tenant.name, platform, slot_id))
    runtime.slots.invalidate((tenant.name, platform, slot_id))


def decide(client, tenant, query):
    answer = client.get(f"/slot/home/creative?platform=web&{query}", headers=tenant.headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_customers_in_the_holdout_get_a_uniform_pick(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b", "c", "d"])
    set_holdout(tenant, runtime, "home", 0.3)
    answers = {f"c{i}": decide(client, tenant, f"customer_id=c{i}&city=pune") for i in range(120)}
    for customer, body in answers.items():
        expected = holdout_point(tenant.name, "web", "home", customer) < 0.3
        assert (body["policy"] == "holdout") == expected, customer
        if expected:
            assert body["propensity"] == 0.25 and body["segment"] == "holdout"
        else:
            assert body["policy"] == "thompson" and body["segment"] in ("global", "city:pune")
    # Stable: the same customers land in the same group again.
    for customer in list(answers)[:40]:
        assert decide(client, tenant, f"customer_id={customer}")["policy"] == answers[customer]["policy"]


def test_share_follows_the_configuration(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    assert all(decide(client, tenant, "")["policy"] == "thompson" for _ in range(20))  # null share = 0
    set_holdout(tenant, runtime, "home", 1.0)
    assert all(decide(client, tenant, "")["policy"] == "holdout" for _ in range(20))
    set_holdout(tenant, runtime, "home", 0.5)
    held = sum(decide(client, tenant, "")["policy"] == "holdout" for _ in range(200))
    # Without customer ids each request draws: Binomial(200, 0.5), sd 7.1; 4 sd is 28.
    assert abs(held - 100) < 29


def test_holdout_counts_events_and_lift(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b", "c"])
    set_holdout(tenant, runtime, "home", 0.5)
    decisions = [decide(client, tenant, f"customer_id=u{i}&city=delhi") for i in range(80)]
    for i, body in enumerate(decisions):
        if i % 3 == 0 or (body["policy"] == "thompson" and i % 2 == 0):
            assert client.post("/click", json={"decision_id": body["decision_id"]},
                               headers=tenant.headers).status_code == 202
    runtime.writer.flush()
    clicked = {i for i, body in enumerate(decisions) if i % 3 == 0 or (body["policy"] == "thompson" and i % 2 == 0)}
    held = [i for i, body in enumerate(decisions) if body["policy"] == "holdout"]
    assert 0 < len(held) < len(decisions)

    counts = runtime.counts.read_slot(tenant.name, "web", "home")
    for creative in ("a", "b", "c"):
        mine = [i for i in held if decisions[i]["creative"]["creative_id"] == creative]
        row = counts.get("holdout", {}).get(creative)
        assert (row.impressions if row else 0) == len(mine)
        assert (row.clicks if row else 0) == len(clicked & set(mine))
    assert sum(c.impressions for c in counts["global"].values()) == 80  # holdout counts in global too

    events = {row["decision_id"]: row for row in tenant.events("home") if row["kind"] == "impression"}
    for body in decisions:
        event = events[body["decision_id"]]
        assert event["policy"] == body["policy"]
        assert event["propensity"] == pytest.approx(body["propensity"], abs=1e-6)

    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    held_clicks = len(clicked & set(held))
    expected = lift_over_holdout(len(clicked) - held_clicks, 80 - len(held), held_clicks, len(held)).as_dict()
    assert stats["lift_over_holdout"] == expected  # same arithmetic on the same counts; JSON floats round-trip
    assert stats["lift_over_holdout"]["ci"][0] < stats["lift_over_holdout"]["lift"] < stats["lift_over_holdout"]["ci"][1]


def test_lift_is_empty_without_a_holdout(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    decide(client, tenant, "")
    runtime.writer.flush()
    lift = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()["lift_over_holdout"]
    assert lift == {"treated_ctr": 0.0, "holdout_ctr": None, "lift": None, "ci": None, "level": 0.95}


def test_holdout_pick_respects_city_restrictions(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b", "c"], cities={"c": {"mumbai"}})
    set_holdout(tenant, runtime, "home", 1.0)
    picks = {decide(client, tenant, "city=pune")["creative"]["creative_id"] for _ in range(40)}
    assert picks == {"a", "b"}  # both eligible ones appear in 40 uniform picks (miss chance 2 * 0.5^40)
    assert decide(client, tenant, "city=pune")["propensity"] == 0.5


def test_holdout_answers_match_the_openapi_document(app, client, tenant, runtime):
    from tests.app.api.test_openapi import ApiDescription

    described = ApiDescription(client.get("/openapi.json").get_json())
    tenant.add_slot("home", creatives=["a", "b"])
    set_holdout(tenant, runtime, "home", 1.0)
    body = described.check("/slot/{slot_id}/creative", "get", client.get(
        "/slot/home/creative?platform=web", headers=tenant.headers), "Decision")
    assert body["policy"] == "holdout"
    assert client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers).status_code == 202
    runtime.writer.flush()
    stats = described.check("/slot/{slot_id}/stats", "get", client.get(
        "/slot/home/stats?platform=web", headers=tenant.headers), "Stats")
    # Only holdout traffic: the bandit's group is empty, so there is no lift yet.
    assert stats["lift_over_holdout"]["holdout_ctr"] == 1.0 and stats["lift_over_holdout"]["lift"] is None


@pytest.mark.slow
def test_lift_shows_that_the_bandit_pays(client, tenant, runtime):
    """Synthetic visitors with known click rates 0.05, 0.15, 0.5 and a 30% holdout.

    The holdout's click-through is the uniform mean 0.233 (sd sqrt(0.233 * 0.767 / ~180) = 0.032,
    so within 0.13 is 4 sd). The bandit finds the 0.5 creative within a few dozen decisions, so its
    click-through is far above: about 0.42 against 0.23, a log risk ratio of ~0.6 with a standard
    error of ~0.15 here, so the 95% interval of the lift excludes 0 by a wide margin.
    """
    import numpy as np

    rates = {"low": 0.05, "mid": 0.15, "high": 0.5}
    tenant.add_slot("home", creatives=list(rates))
    set_holdout(tenant, runtime, "home", 0.3)
    rng = np.random.default_rng(2026)
    for i in range(600):
        body = decide(client, tenant, f"customer_id=v{i}")
        if rng.random() < rates[body["creative"]["creative_id"]]:
            client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers)
        if i % 50 == 0:
            runtime.writer.flush()  # let the posteriors see what happened so far
    runtime.writer.flush()
    lift = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()["lift_over_holdout"]
    assert abs(lift["holdout_ctr"] - np.mean(list(rates.values()))) < 0.13, lift
    assert lift["treated_ctr"] > lift["holdout_ctr"]
    assert lift["ci"][0] > 0, lift
