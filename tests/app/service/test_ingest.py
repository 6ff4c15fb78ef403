"""POST /events and GET /customer/<id>/features against the real Cassandra: exact hand-built cases."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from app.storage.customers import CustomerStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)  # a Monday noon, well in the past


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def ev(event_id, event, hours, customer="c1", session="s1", **fields):
    return {"event_id": event_id, "event": event, "customer_id": customer, "session_id": session,
            "event_time": at(hours), **fields}


def post(client, tenant, events):
    answer = client.post("/events", json=events, headers=tenant.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def features(client, tenant, customer="c1"):
    answer = client.get(f"/customer/{customer}/features", headers=tenant.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["customer_id"] == customer
    return body["features"]


def story():
    """A week of one player: launched in DE with facebook, three games in s2 (2 won), two purchases."""
    return [
        ev("e1", "app_launched", 0, session="s1", country="DE", signin_method="facebook", language="de", os="ios"),
        ev("e2", "game_start", 0.1, session="s1"),
        ev("e3", "game_end", 0.2, session="s1", won=False, score=10),
        ev("e4", "purchase", 1, session="s1", txn_amount=4.99, sku="gems-100"),
        ev("e5", "app_launched", 24, session="s2", country="DE", signin_method="facebook"),
        ev("e6", "game_end", 24.1, session="s2", won=True, score=50),
        ev("e7", "game_end", 24.2, session="s2", won=True, score=70),
        ev("e8", "game_end", 24.3, session="s2", won=False, score=5),
        ev("e9", "offer_shown", 24.4, session="s2", sku="gems-500"),
        ev("e10", "purchase", 24.5, session="s2", txn_amount=4.99, sku="gems-100"),
    ]


def test_hand_built_week_gives_exact_features(client, tenant):
    assert post(client, tenant, story()) == {"accepted": 10, "duplicates": 0, "rejected": []}
    assert features(client, tenant) == {
        "country": "DE", "facebook_connected": True, "last_week.purchase_amount": 9.98,
        "last_session.games_played": 3, "last_session.win_ratio": 0.67,
    }


def test_arrival_order_does_not_change_the_features(client, make_tenant):
    in_order, reversed_order, shuffled = make_tenant(), make_tenant(), make_tenant()
    events = story()
    post(client, in_order, events)
    for event in reversed(events):  # one call per event, newest first: every older event arrives late
        post(client, reversed_order, [event])
    post(client, shuffled, events[5::2])
    post(client, shuffled, events[::-2])
    post(client, shuffled, events)
    expected = features(client, in_order)
    assert features(client, reversed_order) == expected == features(client, shuffled)


def test_a_late_older_event_does_not_replace_the_latest_values(client, tenant):
    post(client, tenant, [ev("new", "app_launched", 48, session="s9", country="FR", signin_method="google"),
                          ev("g-new", "game_end", 48.5, session="s9", won=True)])
    post(client, tenant, [ev("old", "app_launched", 1, session="s1", country="DE", signin_method="facebook"),
                          ev("g-old", "game_end", 2, session="s1", won=False),
                          ev("g-old2", "game_end", 3, session="s1", won=False)])
    got = features(client, tenant)
    assert (got["country"], got["facebook_connected"]) == ("FR", False)
    assert (got["last_session.games_played"], got["last_session.win_ratio"]) == (1, 1.0)
    # A late game_end of the latest session does count in it.
    post(client, tenant, [ev("g-late", "game_end", 48.2, session="s9", won=False)])
    got = features(client, tenant)
    assert (got["last_session.games_played"], got["last_session.win_ratio"]) == (2, 0.5)


def test_last_week_is_the_seven_days_up_to_the_latest_event(client, tenant):
    week = 7 * 24
    post(client, tenant, [ev("p-edge", "purchase", 0, txn_amount=100.0),       # exactly 7 days before: out
                          ev("p-in", "purchase", 0.001, txn_amount=2.5),        # 3.6 s later: in
                          ev("r", "refund", 10, txn_amount=2.5),                # refunds do not reduce it
                          ev("p-last", "purchase", week, txn_amount=1.25)])
    assert features(client, tenant)["last_week.purchase_amount"] == 3.75
    # A later event of any kind moves the window: the first purchase leaves it.
    post(client, tenant, [ev("launch", "app_launched", week + 1, country="PT")])
    assert features(client, tenant)["last_week.purchase_amount"] == 1.25
    # An older purchase arriving late counts only when inside the window of the latest event.
    post(client, tenant, [ev("p-late-in", "purchase", week - 1, txn_amount=0.5),
                          ev("p-late-out", "purchase", 0.5, txn_amount=40.0)])
    assert features(client, tenant)["last_week.purchase_amount"] == 1.75


def test_window_spanning_two_months_reads_both(client, tenant):
    end_of_october = datetime(2026, 10, 30, 8, 0, tzinfo=timezone.utc)
    first = {**ev("oct", "purchase", 0, txn_amount=3.0), "event_time": end_of_october.isoformat()}
    second = {**ev("nov", "purchase", 0, txn_amount=4.0),
              "event_time": (end_of_october + timedelta(days=4)).isoformat()}
    post(client, tenant, [first, second])
    assert features(client, tenant)["last_week.purchase_amount"] == 7.0


def test_a_new_customer_without_games_or_launches_has_neutral_features(client, tenant):
    post(client, tenant, [ev("only", "game_start", 5, customer="fresh")])
    assert features(client, tenant, "fresh") == {
        "country": None, "facebook_connected": False, "last_week.purchase_amount": 0.0,
        "last_session.games_played": 0, "last_session.win_ratio": None,
    }


def test_resent_events_count_once(client, tenant):
    events = story()
    assert post(client, tenant, events[:4]) == {"accepted": 4, "duplicates": 0, "rejected": []}
    assert post(client, tenant, events) == {"accepted": 6, "duplicates": 4, "rejected": []}
    assert post(client, tenant, events + [events[0], events[3]]) == {"accepted": 0, "duplicates": 12, "rejected": []}
    assert features(client, tenant)["last_week.purchase_amount"] == 9.98
    assert features(client, tenant)["last_session.games_played"] == 3


def test_a_repeated_id_inside_one_call_counts_once(client, tenant):
    purchase = ev("p", "purchase", 1, txn_amount=5.0)
    assert post(client, tenant, [purchase, purchase, purchase]) == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert features(client, tenant)["last_week.purchase_amount"] == 5.0


def test_a_reused_id_with_other_content_is_a_duplicate_and_changes_nothing(client, tenant, runtime):
    post(client, tenant, [ev("p", "purchase", 1, txn_amount=5.0)])
    answer = post(client, tenant, [ev("p", "purchase", 1.5, txn_amount=500.0, customer="c2")])
    assert answer == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert features(client, tenant)["last_week.purchase_amount"] == 5.0
    assert client.get("/customer/c2/features", headers=tenant.headers).status_code == 404


def test_an_id_is_unique_within_the_utc_hour_of_the_event_time(client, tenant):
    """The identity of an event is its id within the UTC hour of its time (the key partition)."""
    post(client, tenant, [ev("p", "purchase", 1, txn_amount=5.0)])
    assert post(client, tenant, [ev("p", "purchase", 2, txn_amount=7.0)])["accepted"] == 1
    assert features(client, tenant)["last_week.purchase_amount"] == 12.0


def test_bad_events_are_rejected_with_reasons_and_the_others_stored(client, tenant, runtime):
    post(client, tenant, story())
    before = features(client, tenant)
    bad = [
        "not an object",
        {k: v for k, v in ev("x1", "purchase", 30, txn_amount=1.0).items() if k != "customer_id"},
        ev("x2", "level_up", 30),
        ev("x3", "purchase", 30, txn_amount="9.99 EUR"),
        ev("x4", "purchase", 30),
        ev("x5", "game_end", 30, won="yes"),
        {**ev("x6", "game_start", 30), "event_time": "yesterday"},
        {**ev("x7", "game_start", 30), "event_time": "2999-01-01T00:00:00Z"},
        ev("x8", "app_launched", 30, device="d" * 300),
        ev("x9", "app_launched", 30, nested={"a": 1}),
        ev("x10", "purchase", 30, txn_amount=-1),
        {**ev("x11", "game_start", 30), "customer_id": 42},
        ev("x12", "game_start", 30, decision_id="v1.forged.signature"),
        ev("x13", "app_launched", 30, blob="b" * 250, **{f"f{i}": "v" * 200 for i in range(20)}),
    ]
    good = ev("ok", "purchase", 30, txn_amount=1.0)
    answer = post(client, tenant, bad + [good] + [story()[0]])
    assert (answer["accepted"], answer["duplicates"]) == (1, 1)
    reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
    assert sorted(reasons) == list(range(len(bad)))
    for index, words in {0: "JSON object", 1: "missing field 'customer_id'", 2: "unknown event type",
                         3: "txn_amount must be a number", 4: "missing field 'txn_amount'",
                         5: "won must be true or false", 6: "ISO 8601", 7: "in the future",
                         8: "at most 256", 9: "must be a string, number", 10: "between 0",
                         11: "customer_id must be a string", 12: "decision_id", 13: "bytes"}.items():
        assert words in reasons[index], (index, reasons[index])
    after = features(client, tenant)
    assert after["last_week.purchase_amount"] == round(before["last_week.purchase_amount"] + 1.0, 2)
    assert {k: v for k, v in after.items() if k != "last_week.purchase_amount"} == {
        k: v for k, v in before.items() if k != "last_week.purchase_amount"}
    # The rejected ids were never claimed: corrected, they are accepted.
    fixed = post(client, tenant, [ev("x3", "purchase", 30, txn_amount=9.99)])
    assert fixed == {"accepted": 1, "duplicates": 0, "rejected": []}


def test_a_decision_of_this_tenant_is_accepted_and_stored(client, tenant, runtime):
    tenant.add_slot("offers", creatives=["a"])
    decision = client.get("/slot/offers/creative?platform=web", headers=tenant.headers).get_json()
    answer = post(client, tenant, [ev("shown", "offer_shown", 3, decision_id=decision["decision_id"], sku="a")])
    assert answer == {"accepted": 1, "duplicates": 0, "rejected": []}
    rows = CustomerStore(runtime.db).events_between(tenant.name, "c1", T0, T0 + timedelta(hours=4))
    assert [(r["event_id"], r["decision_id"], r["attrs"]) for r in rows] == [
        ("shown", decision["decision_id"], {"sku": "a"})]


def test_another_tenants_decision_is_rejected(client, make_tenant):
    owner, other = make_tenant(), make_tenant()
    owner.add_slot("offers", creatives=["a"])
    decision = client.get("/slot/offers/creative?platform=web", headers=owner.headers).get_json()
    answer = post(client, other, [ev("shown", "offer_shown", 3, decision_id=decision["decision_id"])])
    assert answer["accepted"] == 0 and "decision_id" in answer["rejected"][0]["reason"]


def test_customers_are_per_tenant(client, make_tenant):
    owner, other = make_tenant(), make_tenant()
    post(client, owner, story())
    missing = client.get("/customer/c1/features", headers=other.headers)
    unknown = client.get("/customer/nobody/features", headers=owner.headers)
    assert missing.status_code == unknown.status_code == 404
    assert missing.get_json() == unknown.get_json()
    # The same event ids are another tenant's own: accepted there, not duplicates.
    assert post(client, other, story())["accepted"] == 10


def test_stored_events_keep_their_own_fields(client, tenant, runtime):
    post(client, tenant, story()[:1])
    rows = CustomerStore(runtime.db).events_between(tenant.name, "c1", T0, T0)
    assert len(rows) == 1
    assert rows[0]["attrs"] == {"country": "DE", "signin_method": "facebook", "language": "de", "os": "ios"}
    assert (rows[0]["event"], rows[0]["session_id"], rows[0]["event_time"]) == ("app_launched", "s1", T0)


@pytest.mark.parametrize("body, code", [
    (b"{", "invalid_json"),
    (b"", "invalid_json"),
    (b'{"event_id": "a"}', "invalid_events"),
    (b"[]", "invalid_events"),
    (b"null", "invalid_events"),
    (json.dumps([{"event_id": str(i)} for i in range(1001)]).encode(), "too_many_events"),
])
def test_bad_bodies_are_400(client, tenant, body, code):
    answer = client.post("/events", data=body, content_type="application/json", headers=tenant.headers)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == code


def test_errors_of_the_contract(client, tenant, settings):
    assert client.post("/events", json=story()).status_code == 401
    assert client.get("/customer/c1/features").status_code == 401
    huge = client.post("/events", data=b"[" + b" " * settings.max_events_body_bytes + b"]",
                       content_type="application/json", headers=tenant.headers)
    assert huge.status_code == 413 and huge.get_json()["error"]["code"] == "payload_too_large"
    bad_id = client.get("/customer/%07bell/features", headers=tenant.headers)
    assert bad_id.status_code == 400 and bad_id.get_json()["error"]["code"] == "invalid_customer_id"


@pytest.mark.slow
def test_a_full_call_of_1000_events_fits_and_is_stored(client, tenant, settings):
    events = [ev(f"bulk-{i:04d}", "game_end", i / 100, customer=f"bulk-{i % 10}", session=f"s{i // 100}",
                 won=i % 3 == 0, score=i, language="en", os="android", device="Pixel 8", app_version="4.12.0")
              for i in range(1000)]
    body = json.dumps(events).encode()
    assert settings.max_body_bytes < len(body) < settings.max_events_body_bytes
    started = time.perf_counter()
    answer = client.post("/events", data=body, content_type="application/json", headers=tenant.headers)
    print(f"POST /events of 1000 new events ({len(body)} bytes): {time.perf_counter() - started:.2f} s")
    assert answer.status_code == 200 and answer.get_json() == {"accepted": 1000, "duplicates": 0, "rejected": []}
    started = time.perf_counter()
    again = client.post("/events", data=body, content_type="application/json", headers=tenant.headers)
    print(f"the same 1000 events again: {time.perf_counter() - started:.2f} s")
    assert again.get_json() == {"accepted": 0, "duplicates": 1000, "rejected": []}
    # Customer bulk-0 ended games i = 0, 10, ..., 990; its last session s9 holds i = 900..990 (10 games),
    # won where i % 3 == 0: 900, 930, 960, 990 -> 4 of 10.
    got = features(client, tenant, "bulk-0")
    assert (got["last_session.games_played"], got["last_session.win_ratio"]) == (10, 0.4)


def test_customer_ids_with_slashes_and_unicode_can_be_looked_up(client, tenant):
    for customer, quoted in (("shop/42", "shop%2F42"), ("spieler-ü 7", "spieler-%C3%BC%207")):
        post(client, tenant, [ev(f"e-{quoted}", "purchase", 1, customer=customer, txn_amount=2.0)])
        answer = client.get(f"/customer/{quoted}/features", headers=tenant.headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["customer_id"] == customer
        assert answer.get_json()["features"]["last_week.purchase_amount"] == 2.0
