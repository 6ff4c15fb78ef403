"""The raw game shape of seed 000 through POST /events, against the real Cassandra: the seed's own
example events sent as written, their features, resends, refusals and offer_shown history."""
import json
import threading
from pathlib import Path

import pytest

from app.storage.customers import CustomerStore
from tests.app.service.test_ingest import features, post

pytestmark = pytest.mark.integration

SEED_EVENTS = json.loads((Path(__file__).parent / "data" / "seed_000_events.json").read_text())
PLAYER = "72a039b9-6759-901a-cf3a-3354d21beed2"
# By hand from the seed: the app_launched carries country DE and an empty signin_method (not signed
# in); the latest event is the game_start at 17:54:12, and the week up to it holds the one purchase
# of 4.99; session ey3je39-932u73 has one game_end, won ("1").
SEED_FEATURES = {"country": "DE", "facebook_connected": False, "last_week.purchase_amount": 4.99,
                 "last_session.games_played": 1, "last_session.win_ratio": 1.0}


def test_the_seed_events_as_written_are_accepted_and_give_exact_features(client, tenant):
    assert post(client, tenant, SEED_EVENTS) == {"accepted": 5, "duplicates": 0, "rejected": []}
    assert features(client, tenant, PLAYER) == SEED_FEATURES


def test_a_resend_changes_nothing_in_either_spelling(client, tenant, runtime):
    post(client, tenant, SEED_EVENTS)
    assert post(client, tenant, SEED_EVENTS) == {"accepted": 0, "duplicates": 5, "rejected": []}
    typed = [dict(e) for e in SEED_EVENTS]  # the same values as JSON numbers and booleans
    typed[2].update(score=8987, won=True, level=7, badge=3, currency_balance=4000)
    typed[4].update(txn_amount=4.99, currency_balance=4000)
    typed[0]["signin_method"] = None
    assert post(client, tenant, typed) == {"accepted": 0, "duplicates": 5, "rejected": []}
    assert features(client, tenant, PLAYER) == SEED_FEATURES
    rows = CustomerStore(runtime.db).events_between(tenant.name, PLAYER, *_seed_window())
    assert len(rows) == 5


def test_an_identical_event_sent_concurrently_is_accepted_once(app, tenant):
    answers, barrier = [], threading.Barrier(8)

    def send():
        client = app.test_client()
        barrier.wait()
        answers.append(post(client, tenant, SEED_EVENTS))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a["accepted"] for a in answers) == 5
    assert all(a["accepted"] + a["duplicates"] == 5 for a in answers)
    assert features(app.test_client(), tenant, PLAYER) == SEED_FEATURES


def test_two_games_in_the_same_second_with_other_scores_are_two_events(client, tenant):
    first = dict(SEED_EVENTS[2])
    second = {**first, "score": "12", "won": "0"}
    assert post(client, tenant, [first, second])["accepted"] == 2
    got = features(client, tenant, PLAYER)
    assert (got["last_session.games_played"], got["last_session.win_ratio"]) == (2, 0.5)


def test_bad_raw_events_are_refused_with_reasons_and_the_rest_stored(client, tenant):
    bad = [{**SEED_EVENTS[4], "txn_amount": "abc"},
           {**SEED_EVENTS[2], "won": "maybe"},
           {**SEED_EVENTS[1], "event_id": "level_up"},
           {k: v for k, v in SEED_EVENTS[1].items() if k != "customer_identifier"},
           {**SEED_EVENTS[1], "session_id": ""},
           {**SEED_EVENTS[4], "txn_amount": ""}]
    answer = post(client, tenant, bad + SEED_EVENTS)
    assert (answer["accepted"], answer["duplicates"]) == (5, 0)
    reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
    assert sorted(reasons) == list(range(len(bad)))
    for index, words in {0: "txn_amount must be a number", 1: "won must be true or false",
                         2: "unknown event type 'level_up'", 3: "missing field 'customer_identifier'",
                         4: "missing field 'session_id'", 5: "missing field 'txn_amount'"}.items():
        assert words in reasons[index], (index, reasons[index])
    assert features(client, tenant, PLAYER) == SEED_FEATURES


def test_raw_and_contract_shapes_give_the_same_features(client, make_tenant):
    raw, contract = make_tenant(), make_tenant()
    post(client, raw, SEED_EVENTS)
    as_contract = []
    for number, event in enumerate(SEED_EVENTS):
        item = {k: v for k, v in event.items() if k not in ("event_id", "customer_identifier")}
        as_contract.append({**item, "event_id": f"e{number}", "event": event["event_id"], "customer_id": PLAYER})
    assert post(client, contract, as_contract)["accepted"] == 5
    assert features(client, raw, PLAYER) == features(client, contract, PLAYER) == SEED_FEATURES


def test_offer_shown_is_kept_as_history_with_typed_fields(client, tenant, runtime):
    post(client, tenant, SEED_EVENTS)
    rows = CustomerStore(runtime.db).events_between(tenant.name, PLAYER, *_seed_window())
    shown = [row for row in rows if row["event"] == "offer_shown"]
    assert len(shown) == 1 and shown[0]["event_id"].startswith("raw-")
    assert shown[0]["attrs"] == {"currency_balance": 4000, "offer_type": "xmas", "offer_price": 9.99,
                                 "offer_purchased": False, "offer_dismissed": True}
    launched = next(row for row in rows if row["event"] == "app_launched")
    assert launched["attrs"]["device_model"] == "BlackBerry 10 Z30" and "signin_method" not in launched["attrs"]


def _seed_window():
    from datetime import datetime, timezone

    return datetime(2017, 8, 14, tzinfo=timezone.utc), datetime(2017, 8, 15, tzinfo=timezone.utc)
