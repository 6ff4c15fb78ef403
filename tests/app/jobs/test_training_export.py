"""slotbandit export-training (real Cassandra): exact features and labels on a hand-built history,
no leakage from later or late-received events, horizons, final labels, files and bad input."""
import csv
from datetime import timedelta

import pytest

from app.jobs.training_rows import COLUMNS, Scope, TrainingError, parse_horizon, training_rows
from tests.app.jobs.training_history import History, hour_start, offer_slot

pytestmark = pytest.mark.integration

H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


@pytest.fixture
def shop(tenant, db):
    """Decisions d1..d4 of one slot, customers c1 and c2 (times relative to T0, 5 days ago).

    c1 before d1 (T0): DE facebook launch, a 4.99 purchase, two games of session s2 (one won).
    After d1 or received after it: a 100 purchase and a game of s3 (happened before T0, received at
    T0 + 1h), a 9.99 purchase of 'pack' and an FR e-mail launch (after T0).
    d1 (pack, clicked) and d2 (coins, T0 + 1d, clicked) share a 20.00 purchase of 'pack2' 50/50;
    8.00 of it is refunded. d3 (c2, no click, no events); d4 (c1, an hour ago, horizon still open).
    """
    slot = offer_slot(tenant)
    t0 = hour_start(5)
    h = History(db, tenant.name, slot)
    h.customer_event("c1", "app_launched", t0 - 3 * D, country="DE", signin_method="facebook", session_id="s1")
    h.customer_event("c1", "purchase", t0 - 2 * D, txn_amount=4.99, sku="gems", session_id="s1")
    h.customer_event("c1", "game_end", t0 - 60 * M, won=True, session_id="s2")
    h.customer_event("c1", "game_end", t0 - 50 * M, won=False, session_id="s2")
    h.decision("d1", t0, "pack", 0.5, customer_id="c1", clicked_at=t0 + M)
    h.decision("d0", t0 - 2 * H, "pack", 0.5, customer_id="c1")  # before --since: not exported
    return tenant, slot, t0, h


def later_events(h, t0):
    """Events d1 must not see: after it, or before it but received after it."""
    h.customer_event("c1", "game_end", t0 - 30 * M, received_at=t0 + H, won=True, session_id="s3")
    h.customer_event("c1", "purchase", t0 - 10 * M, received_at=t0 + H, txn_amount=100.0, sku="gold")
    h.customer_event("c1", "purchase", t0 + 10 * M, txn_amount=9.99, sku="pack")
    h.customer_event("c1", "app_launched", t0 + 20 * M, country="FR", signin_method="email", session_id="s4")


def more_decisions(h, t0):
    h.decision("d2", t0 + D, "coins", 0.25, customer_id="c1", clicked_at=t0 + D + M)
    h.customer_event("c1", "purchase", t0 + D + 5 * M, txn_amount=20.0, sku="pack2")
    h.customer_event("c1", "refund", t0 + D + 10 * M, txn_amount=8.0, sku="pack2")
    h.decision("d3", t0 + 2 * H, "coins", 0.5, customer_id="c2")
    h.decision("d4", hour_start(0) - H, "pack", 0.5, customer_id="c1")


def export(db, tenant, t0, horizon="2d", **options):
    scope = Scope(since=t0 - H, until=hour_start(0) + H, horizon_s=parse_horizon(horizon), tenant=tenant.name,
                  **options)
    return {r["decision_id"]: r for r in training_rows(db, scope)}


D1_FEATURES = {"country": "DE", "facebook_connected": True, "last_week.purchase_amount": 4.99,
               "last_session.games_played": 2, "last_session.win_ratio": 0.5}


def features(row):
    return {k: row[k] for k in D1_FEATURES}


def test_rows_carry_features_at_decision_time_and_exact_split_labels(db, shop):
    tenant, slot, t0, h = shop
    later_events(h, t0)
    more_decisions(h, t0)
    rows = export(db, tenant, t0)
    assert sorted(rows) == ["d1", "d2", "d3", "d4"]
    d1, d2, d3, d4 = (rows[k] for k in ("d1", "d2", "d3", "d4"))
    assert features(d1) == D1_FEATURES
    # d2 (T0 + 1d) knows everything up to then: the FR e-mail launch, the late game of s3 and the
    # week up to the latest known event (T0 + 20 min): 4.99 + 100 + 9.99.
    assert features(d2) == {"country": "FR", "facebook_connected": False, "last_week.purchase_amount": 114.98,
                            "last_session.games_played": 1, "last_session.win_ratio": 1.0}
    assert (d1["tenant"], d1["platform"], d1["slot_id"], d1["customer_id"]) == (tenant.name, "android", slot, "c1")
    assert (d1["creative_id"], d1["offer_type"], d1["price"], d1["propensity"]) == ("pack", "bundle", 9.99, 0.5)
    assert (d2["offer_type"], d2["price"], d2["propensity"], d2["policy"]) == ("currency", 4.99, 0.25, "thompson")
    assert d1["timestamp"] == t0 and d1["clicked"] and d2["clicked"] and not d3["clicked"]
    # d1: all of the 9.99 'pack' purchase, half of the 20.00 'pack2' purchase less half of its 8.00 refund.
    assert d1["revenue"] == pytest.approx(9.99 + 10.0 - 4.0)
    assert (d1["purchases"], d1["refunds"]) == (pytest.approx(1.5), pytest.approx(0.5 * 8 / 20))
    assert (d2["revenue"], d2["purchases"], d2["refunds"]) == (pytest.approx(6.0), 0.5, pytest.approx(0.2))
    assert (d3["revenue"], d3["purchases"], d3["country"], d3["facebook_connected"]) == (0.0, 0.0, None, None)
    assert d1["label_final"] and d2["label_final"] and d3["label_final"] and not d4["label_final"]


def test_later_and_late_received_events_change_nothing_in_a_row(db, shop):
    tenant, _, t0, h = shop
    before = export(db, tenant, t0)["d1"]
    assert features(before) == D1_FEATURES
    later_events(h, t0)
    after = export(db, tenant, t0)["d1"]
    assert features(after) == features(before)
    # The label is about the future: the 9.99 'pack' purchase after the click is d1's revenue.
    assert (before["revenue"], after["revenue"]) == (0.0, pytest.approx(9.99))


def test_the_horizon_bounds_the_label_and_final_only_leaves_open_rows_out(db, shop):
    tenant, _, t0, h = shop
    later_events(h, t0)
    more_decisions(h, t0)
    short = export(db, tenant, t0, horizon="12h")
    # 12 hours: d1 no longer reaches the 20.00 purchase at T0 + 1d, so d2 alone earns it.
    assert short["d1"]["revenue"] == pytest.approx(9.99)
    assert short["d2"]["revenue"] == pytest.approx(20.0 - 8.0)
    assert "d4" not in export(db, tenant, t0, horizon="12h", final_only=True)
    # 5 minutes: the click (T0 + 1 min) is in, the purchase (T0 + 10 min) is not.
    assert export(db, tenant, t0, horizon="5m", final_only=True)["d1"]["revenue"] == 0.0


def test_clicks_outside_the_export_share_credit_only_on_revenue_slots(db, shop):
    tenant, slot, t0, h = shop
    later_events(h, t0)  # the 9.99 'pack' purchase at T0 + 10 min
    offer_slot(tenant, "shop2")
    db.execute("UPDATE slots SET objective = 'revenue' WHERE tenant = ? AND platform = 'android' AND slot_id = 'shop2'",
               (tenant.name,))
    offer_slot(tenant, "banner")  # objective clicks: its clicks take no credit
    History(db, tenant.name, "shop2").decision("x1", t0 + 2 * M, "coins", 0.5, customer_id="c1",
                                               clicked_at=t0 + 3 * M)
    History(db, tenant.name, "banner").decision("y1", t0 + 2 * M, "coins", 0.5, customer_id="c1",
                                                clicked_at=t0 + 4 * M)
    h.decision("d-1", t0 - 3 * H, "pack", 0.5, customer_id="c1", clicked_at=t0 - 3 * H + M)  # before --since
    rows = export(db, tenant, t0, platform="android", slot_id=slot)
    assert sorted(rows) == ["d1"]
    # d1, x1 (other revenue slot) and d-1 (same slot, before the window, still open) share it.
    assert rows["d1"]["revenue"] == pytest.approx(9.99 / 3)
    assert rows["d1"]["purchases"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("text, seconds", [("7d", 604800), ("36h", 129600), ("3600s", 3600), ("90m", 5400)])
def test_horizons(text, seconds):
    assert parse_horizon(text) == seconds


@pytest.mark.parametrize("text", ["7", "7w", "-1d", "0s", "400d", "", "1.5d"])
def test_bad_horizons_are_refused_with_the_expected_form(text):
    with pytest.raises(TrainingError, match="--horizon must be"):
        parse_horizon(text)


def test_cli_writes_csv_and_parquet_with_every_column(cli, db, shop, tmp_path):
    tenant, slot, t0, h = shop
    later_events(h, t0)
    since = (t0 - H).isoformat()
    out = tmp_path / "rows.csv"
    result = cli("export-training", "--horizon", "2d", "--since", since, "--tenant", tenant.name, "--slot", slot,
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert "wrote 1 rows" in result.output
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert (rows[0]["decision_id"], rows[0]["country"], rows[0]["facebook_connected"]) == ("d1", "DE", "true")
    assert (rows[0]["revenue"], rows[0]["label_final"]) == ("9.99", "true")

    import pyarrow.parquet as pq

    parquet = tmp_path / "rows.parquet"
    result = cli("export-training", "--since", since, "--tenant", tenant.name, "--format", "parquet", "--out", parquet)
    assert result.exit_code == 0, result.output
    table = pq.read_table(parquet).to_pylist()
    assert table[0]["last_week.purchase_amount"] == 4.99 and table[0]["timestamp"] == t0


@pytest.mark.parametrize("args, message", [
    (["--horizon", "7x"], "--horizon must be a number with a unit"),
    (["--since", "yesterday"], "--since must be a date"),
    (["--tenant", "nobody-here"], "no slot matches (tenant=nobody-here)"),
    (["--out", "/nonexistent-dir/rows.csv"], "the directory of /nonexistent-dir/rows.csv does not exist"),
])
def test_cli_bad_input_is_one_line(cli, tmp_path, args, message):
    base = {"--since": "2026-11-01", "--out": str(tmp_path / "x.csv"), "--tenant": "nobody-here"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    result = cli("export-training", *[part for pair in base.items() for part in pair])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("slotbandit: ") and message in result.output


def test_raw_game_events_sent_over_http_give_the_same_training_features(db, client, tenant):
    """The history of D1_FEATURES sent as the game sends it (raw shape, every value a string):
    the export's features at a decision after it are the same as for typed events."""
    from datetime import datetime, timezone

    slot = offer_slot(tenant)
    now = datetime.now(timezone.utc).replace(microsecond=0)

    def raw(name, at, session, **fields):
        return {"event_id": name, "event_time": at.isoformat(), "customer_identifier": "c1", "session_id": session,
                **{k: str(v) for k, v in fields.items()}}

    answer = client.post("/events", headers=tenant.headers, json=[
        raw("app_launched", now - 3 * D, "s1", country="DE", signin_method="facebook", os_version="6.4.5"),
        raw("purchase", now - 2 * D, "s1", txn_amount="4.99", sku="gems", currency_balance=4000),
        raw("game_end", now - 60 * M, "s2", won="1", score=8987),
        raw("game_end", now - 50 * M, "s2", won="0", score=12),
        raw("offer_shown", now - 40 * M, "s2", offer_type="xmas", offer_price="9.99", offer_purchased="false",
            offer_dismissed="true")]).get_json()
    assert answer == {"accepted": 5, "duplicates": 0, "rejected": []}
    History(db, tenant.name, slot).decision("d1", now + timedelta(seconds=2), "pack", 0.5, customer_id="c1")
    scope = Scope(since=now - H, until=now + H, horizon_s=parse_horizon("2d"), tenant=tenant.name)
    rows = {r["decision_id"]: r for r in training_rows(db, scope)}
    assert features(rows["d1"]) == D1_FEATURES
