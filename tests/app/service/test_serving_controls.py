"""Flights, hours and frequency caps through the service, against the real Cassandra of the test run."""
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration

UTC = timezone.utc


def set_slot(tenant, slot_id="home", **columns):
    tenant.db.execute(f"UPDATE slots SET {', '.join(f'{n} = ?' for n in columns)} "
                      "WHERE tenant = ? AND platform = 'web' AND slot_id = ?",
                      (*columns.values(), tenant.name, slot_id))


def set_creative(tenant, creative_id, slot_id="home", **columns):
    tenant.db.execute(f"UPDATE creatives SET {', '.join(f'{n} = ?' for n in columns)} "
                      "WHERE tenant = ? AND platform = 'web' AND slot_id = ? AND creative_id = ?",
                      (*columns.values(), tenant.name, slot_id, creative_id))


def shown(client, tenant, n=30, query="platform=web", expect=200):
    answers = [client.get(f"/slot/home/creative?{query}", headers=tenant.headers) for _ in range(n)]
    assert all(a.status_code == expect for a in answers), answers[0].get_json()
    return Counter(a.get_json()["creative"]["creative_id"] for a in answers) if expect == 200 else answers


def wait_for(predicate, deadline_s=5.0):
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def test_flight_starts_and_ends_while_the_service_runs(client, tenant):
    tenant.add_slot("home", creatives=["always", "flight"])
    now = datetime.now(UTC)
    set_creative(tenant, "flight", starts_at=now + timedelta(seconds=3), ends_at=now + timedelta(seconds=6))
    time.sleep(1.0)  # the configuration refresh (0.5 s in tests) has read the flight
    assert set(shown(client, tenant)) == {"always"}
    assert wait_for(lambda: "flight" in shown(client, tenant, n=20), deadline_s=4.0) is not None
    assert datetime.now(UTC) >= now + timedelta(seconds=3)
    assert wait_for(lambda: set(shown(client, tenant, n=20)) == {"always"}, deadline_s=5.0) is not None
    assert datetime.now(UTC) >= now + timedelta(seconds=6)


def test_start_date_moved_into_the_past_takes_effect_within_5_s(app, tenant):
    """With the production refresh interval (2 s), as the hot-reload tests do."""
    from dataclasses import replace

    from app.api.factory import create_app
    from app.service.runtime import Runtime

    production = replace(app.extensions["slotbandit"].settings, config_refresh_s=2.0)
    client = create_app(production, runtime=Runtime.build(production)).test_client()
    tenant.add_slot("home", creatives=["always", "later"])
    set_creative(tenant, "later", starts_at=datetime.now(UTC) + timedelta(days=30))
    time.sleep(2.5)
    assert set(shown(client, tenant)) == {"always"}
    set_creative(tenant, "later", starts_at=datetime.now(UTC) - timedelta(hours=1))
    assert wait_for(lambda: "later" in shown(client, tenant, n=20), deadline_s=5.0) is not None


def test_kolkata_slot_serves_creatives_in_their_hours_and_says_why_others_are_not(client, tenant):
    tenant.add_slot("home", creatives=["always", "now", "other_hours", "ended", "not_started"])
    set_slot(tenant, timezone="Asia/Kolkata")
    local = datetime.now(ZoneInfo("Asia/Kolkata"))
    hours_now = {local.hour, (local.hour + 1) % 24}  # this IST hour and the next: the test may cross the hour
    set_creative(tenant, "now", hours=hours_now)
    set_creative(tenant, "other_hours", hours={(local.hour + 12) % 24})
    set_creative(tenant, "ended", ends_at=datetime.now(UTC) - timedelta(minutes=1))
    set_creative(tenant, "not_started", starts_at=datetime.now(UTC) + timedelta(days=1))
    time.sleep(1.0)
    assert set(shown(client, tenant, n=60)) == {"always", "now"}
    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    assert stats["timezone"] == "Asia/Kolkata" and stats["local_time"].endswith("+05:30")
    status = {c["creative_id"]: (c["status"], c["eligible"]) for c in stats["segments"][0]["creatives"]}
    assert status == {"always": ("serving", True), "now": ("serving", True), "other_hours": ("outside_hours", False),
                      "ended": ("ended", False), "not_started": ("not_started", False)}


def test_unknown_zone_decides_in_utc_and_is_reported(client, tenant, cli):
    tenant.add_slot("home", creatives=["a"])
    set_slot(tenant, timezone="Mars/Olympus_Mons")
    set_creative(tenant, "a", hours={datetime.now(UTC).hour, (datetime.now(UTC).hour + 1) % 24})
    time.sleep(1.0)
    assert set(shown(client, tenant, n=5)) == {"a"}  # hours read in UTC
    listing = client.get("/slots?platform=web", headers=tenant.headers).get_json()
    assert any("Mars/Olympus_Mons" in w for s in listing["slots"] for w in s["warnings"])
    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    assert stats["timezone"] == "UTC" and "Mars/Olympus_Mons" in stats["warnings"][0]
    result = cli("schema", "apply")
    assert result.exit_code == 0
    assert f"warning: slot {tenant.name}/web/home: unknown time zone 'Mars/Olympus_Mons'" in result.output


def test_capped_customer_sees_each_creative_at_most_cap_times_then_404(client, tenant):
    tenant.add_slot("home", creatives=["a", "b"])
    set_slot(tenant, frequency_cap=2, frequency_window_s=3600)
    time.sleep(1.0)
    seen = shown(client, tenant, n=4, query="platform=web&customer_id=u1")
    assert seen == Counter({"a": 2, "b": 2})
    answer = client.get("/slot/home/creative?platform=web&customer_id=u1", headers=tenant.headers)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "frequency_capped"
    assert sum(shown(client, tenant, n=4, query="platform=web&customer_id=u2").values()) == 4  # another customer
    assert sum(shown(client, tenant, n=10).values()) == 10  # no customer_id: not capped


def test_a_customer_capped_by_another_instance_is_decided_among_the_rest(client, tenant, runtime):
    """Marks written by another instance (this process has no hint for the customer): the first choice
    may fall on the capped creative; the read finds it, and the decision is made again among the two
    left, with their propensity. The cap holds and nothing of the refused choice stays."""
    from app.storage.frequency import window_start

    tenant.add_slot("home", creatives=["a", "b", "c"])
    set_slot(tenant, frequency_cap=1)
    time.sleep(1.0)
    start = window_start(datetime.now(UTC), 86400)
    for customer in ("q1", "q2", "q3", "q4", "q5", "q6"):
        runtime.frequency.mark(tenant.name, "web", "home", customer, start, "a", uuid.uuid1(), 600)
        body = client.get(f"/slot/home/creative?platform=web&customer_id={customer}", headers=tenant.headers).get_json()
        assert body["creative"]["creative_id"] in ("b", "c")
        snapshot = runtime.snapshot(tenant.name, "web", "home")
        _, probabilities = runtime.policy.probabilities(snapshot, None, ("b", "c"))
        assert body["propensity"] == pytest.approx(dict(zip(("b", "c"), probabilities))[body["creative"]["creative_id"]],
                                                   abs=1e-6)
        assert wait_for(lambda: {k: len(v) for k, v in runtime.frequency.marks(
            tenant.name, "web", "home", customer, start).items()} == {"a": 1, body["creative"]["creative_id"]: 1})


def test_propensity_is_over_the_creatives_not_capped(client, tenant, runtime):
    """cap 1: after the first decision the customer's second is among the two creatives left, and its
    logged propensity is the policy's probability over those two."""
    tenant.add_slot("home", creatives=["a", "b", "c"])
    set_slot(tenant, frequency_cap=1)
    time.sleep(1.0)
    logged = {}
    for customer in ("p1", "p2", "p3"):
        first = client.get(f"/slot/home/creative?platform=web&customer_id={customer}", headers=tenant.headers)
        second = client.get(f"/slot/home/creative?platform=web&customer_id={customer}", headers=tenant.headers)
        first_id, body = first.get_json()["creative"]["creative_id"], second.get_json()
        left = tuple(c for c in ("a", "b", "c") if c != first_id)
        assert body["creative"]["creative_id"] in left
        snapshot = runtime.snapshot(tenant.name, "web", "home")
        _, probabilities = runtime.policy.probabilities(snapshot, None, left)
        expected = dict(zip(left, probabilities))[body["creative"]["creative_id"]]
        assert body["propensity"] == pytest.approx(expected, abs=1e-6)
        assert body["propensity"] > 1 / 3  # a share of two creatives, not of three
        logged[body["decision_id"]] = body["propensity"]
    runtime.writer.flush()
    rows = {r["decision_id"]: r["propensity"] for r in tenant.events("home") if r["kind"] == "impression"}
    assert len(rows) == 6 and all(rows[d] == pytest.approx(p, abs=1e-6) for d, p in logged.items())
