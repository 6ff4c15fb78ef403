"""The dashboard's JSON calls (GET /slots, GET /slot/<id>/overview) and its page, through the test client
against the real Cassandra: tenant isolation, traffic share from the event log, lift from the holdout
segment, validation, and conformance with the OpenAPI document."""
from datetime import datetime, timedelta, timezone

import pytest

from app.storage import Event
from bandit.lift import lift_over_holdout
from tests.app.insights.insights_data import add_counts
from tests.app.api.test_openapi import described  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def log_impressions(runtime, tenant, slot_id, counts, minutes_ago=5, clicks=None, policy="thompson"):
    """Impression (and click) rows in the event log, ``minutes_ago`` minutes ago; the first
    ``clicks[creative]`` impressions of a creative are clicked. Click rows carry no policy, as in the app."""
    moment = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    for creative_id, n in counts.items():
        for i in range(n):
            kind = "click" if i < (clicks or {}).get(creative_id, 0) else "impression"
            for event_kind in (("impression", "click") if kind == "click" else ("impression",)):
                prefix = "imp" if event_kind == "impression" else "click"
                runtime.events.insert(Event(tenant.name, "web", slot_id, moment,
                                            f"{prefix}:{policy}-{creative_id}-{minutes_ago}-{i}", event_kind, "d",
                                            creative_id, "global", city="pune",
                                            policy=policy if event_kind == "impression" else None))


def test_slots_lists_the_keys_tenant_only(client, make_tenant, described):  # noqa: F811
    mine, theirs = make_tenant("dash"), make_tenant("dash")
    mine.add_slot("home", creatives=["a", "b"], inactive=["b"])
    mine.add_slot("footer", creatives=["x"])
    theirs.add_slot("secret-slot", creatives=["z"])
    body = described.check("/slots", "get", client.get("/slots?platform=web", headers=mine.headers), "SlotList")
    assert [(s["slot_id"], s["creatives"], s["active_creatives"]) for s in body["slots"]] == [
        ("footer", 1, 1), ("home", 2, 1)]
    assert body["platforms"] == ["web"]
    assert client.get("/slots?platform=android", headers=mine.headers).get_json()["slots"] == []
    mine.add_slot("shop", creatives=["y"], platform="android")
    theirs.add_slot("their-tv", creatives=["z"], platform="tv")
    android = client.get("/slots?platform=android", headers=mine.headers).get_json()
    assert android["platforms"] == ["android", "web"] and [s["slot_id"] for s in android["slots"]] == ["shop"]
    assert client.get("/slots?platform=web").status_code == 401
    assert client.get("/slots", headers=mine.headers).status_code == 400


def test_overview_shows_traffic_share_posteriors_and_no_holdout_data(client, runtime, tenant, described):  # noqa: F811
    tenant.add_slot("home", creatives=["a", "b", "c"])
    log_impressions(runtime, tenant, "home", {"a": 6, "b": 3, "c": 1}, clicks={"a": 2})
    log_impressions(runtime, tenant, "home", {"c": 50}, minutes_ago=90)  # outside the default hour
    add_counts(tenant.db, tenant, "home", "global", "a", 60, 6)
    body = described.check("/slot/{slot_id}/overview", "get",
                           client.get("/slot/home/overview?platform=web", headers=tenant.headers), "Overview")
    traffic = body["traffic"]
    assert (traffic["window_s"], traffic["impressions"], traffic["clicks"]) == (3600, 10, 2)
    assert [(c["creative_id"], c["impressions"], c["share"]) for c in traffic["creatives"]] == [
        ("a", 6, 0.6), ("b", 3, 0.3), ("c", 1, 0.1)]
    assert body["lift"] is None
    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    assert body["segments"] == stats["segments"]
    wider = client.get("/slot/home/overview?platform=web&window_s=7200", headers=tenant.headers).get_json()
    assert wider["traffic"]["impressions"] == 60


def test_overview_lift_comes_from_the_holdout_segment(client, tenant, described):  # noqa: F811
    tenant.add_slot("home", creatives=["a", "b"])
    for segment in ("global", "holdout"):
        add_counts(tenant.db, tenant, "home", segment, "a", 50, 1)
        add_counts(tenant.db, tenant, "home", segment, "b", 50, 2)
    add_counts(tenant.db, tenant, "home", "global", "a", 900, 45)
    body = described.check("/slot/{slot_id}/overview", "get",
                           client.get("/slot/home/overview?platform=web", headers=tenant.headers), "Overview")
    expected = lift_over_holdout(45, 900, 3, 100)
    lift = body["lift"]
    assert lift["bandit"] == {"impressions": 900, "clicks": 45} and lift["holdout"] == {"impressions": 100, "clicks": 3}
    assert lift["lift"] == pytest.approx(expected.lift, abs=1e-6)
    assert lift["ci"] == pytest.approx([expected.ci_low, expected.ci_high], abs=1e-6)
    assert "holdout" not in {s["segment"] for s in body["segments"]}


def test_overview_of_another_tenants_slot_is_unknown(client, make_tenant, described):  # noqa: F811
    owner, other = make_tenant("dash"), make_tenant("dash")
    owner.add_slot("home", creatives=["a"])
    foreign = client.get("/slot/home/overview?platform=web", headers=other.headers)
    described.check("/slot/{slot_id}/overview", "get", foreign, "Error")
    assert (foreign.status_code, foreign.get_json()["error"]["code"]) == (404, "unknown_slot")
    assert client.get("/slot/home/overview?platform=web").status_code == 401


@pytest.mark.parametrize("window", ["0", "59", "604801", "abc", "1.5"])
def test_overview_refuses_a_bad_window(client, tenant, window, described):  # noqa: F811
    tenant.add_slot("home", creatives=["a"])
    answer = client.get(f"/slot/home/overview?platform=web&window_s={window}", headers=tenant.headers)
    described.check("/slot/{slot_id}/overview", "get", answer, "Error")
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, "invalid_window_s")


def test_dashboard_page_is_static_and_locked_down(client):
    page = client.get("/dashboard")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    assert 'id="api-key"' in html and 'type="password"' in html
    script = client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and "X-Api-Key" in script.get_data(as_text=True)
    assert "innerHTML" not in script.get_data(as_text=True)  # API values are written as text only
    script.close()
