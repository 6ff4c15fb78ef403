"""Validation of single events (no storage): each reason, time handling and the body's shape."""
from datetime import datetime, timedelta, timezone

import pytest

from app.errors import BadRequest
from app.service.event_input import Invalid, event_array, parse_all, parse_event
from app.storage.customer_events import month_bucket

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)


def base(**fields):
    return {"event_id": "e1", "event": "game_start", "customer_id": "c1", "session_id": "s1",
            "event_time": "2026-11-24T09:00:00Z", **fields}


def parse(item, decision_ok=lambda d: True):
    return parse_event("acme", item, decision_ok, NOW)


def test_a_valid_purchase_keeps_its_fields():
    event = parse(base(event="purchase", txn_amount=4.99, sku="gems", decision_id="v1.a.b", os="ios"))
    assert (event.tenant, event.event, event.txn_amount, event.sku, event.decision_id) == (
        "acme", "purchase", 4.99, "gems", "v1.a.b")
    assert event.attrs == {"txn_amount": 4.99, "sku": "gems", "os": "ios"}
    assert event.month == "202611"


@pytest.mark.parametrize("text, expected", [
    ("2026-11-24T09:00:00Z", datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)),
    ("2026-11-24T11:00:00+02:00", datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)),
    ("2026-11-24T09:00:00", datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)),  # no offset: UTC
    ("2026-11-24T09:00:00.123456Z", datetime(2026, 11, 24, 9, 0, 0, 123000, tzinfo=timezone.utc)),
    ("2026-11-24T10:04:59Z", datetime(2026, 11, 24, 10, 4, 59, tzinfo=timezone.utc)),  # clock skew allowed
])
def test_times_are_utc_milliseconds(text, expected):
    assert parse(base(event_time=text)).event_time == expected


@pytest.mark.parametrize("item, reason", [
    ([1], "JSON object"),
    ({"event": "game_start"}, "missing field 'event_id'"),
    (base(event_id=""), "missing field 'event_id'"),  # an empty string is an unset field
    (base(event_id="x" * 129), "event_id must be a string"),
    (base(event="Purchase"), "unknown event type 'Purchase'"),
    (base(event=None), "missing field 'event'"),
    (base(session_id=None), "missing field 'session_id'"),
    (base(customer_id="a\nb"), "customer_id must be a string"),
    (base(event_time="2026-11-24"), "ISO 8601"),
    (base(event_time="2026-13-01T00:00:00Z"), "not an ISO 8601"),
    (base(event_time=1732442400), "ISO 8601"),
    (base(event_time="1999-12-31T23:59:59Z"), "before 2000"),
    (base(event_time="9999-12-31T23:59:59-05:00"), "not an ISO 8601"),  # beyond the last representable UTC time
    (base(event_time="0001-01-01T00:00:00+05:00"), "not an ISO 8601"),
    (base(event_time="2026-11-24T10:05:01Z"), "in the future"),
    (base(event="purchase"), "missing field 'txn_amount'"),
    (base(event="purchase", txn_amount=True), "txn_amount must be a number"),
    (base(event="purchase", txn_amount=float("nan")), "txn_amount must be a number"),
    (base(event="purchase", txn_amount=2e9), "between 0"),
    (base(event="game_end"), "missing field 'won'"),
    (base(event="game_end", won=2), "won must be true or false"),
    (base(event="game_end", won="yes"), "won must be true or false"),
    (base(event="purchase", txn_amount="abc"), "txn_amount must be a number"),
    (base(event="purchase", txn_amount="NaN"), "txn_amount must be a number"),
    (base(event="purchase", txn_amount="1_000"), "txn_amount must be a number"),
    (base(event="purchase", txn_amount="-1"), "between 0"),
    (base(event="purchase", txn_amount=""), "missing field 'txn_amount'"),
    (base(event="game_end", won=True, score="high"), "score must be a number"),
    (base(country=["DE"]), "must be a string"),
    (base(signin_method=5), "signin_method must be a string"),
    (base(device=float("inf")), "finite"),
    (base(**{f"f{i}": i for i in range(33)}), "at most 32 fields"),
    (base(**{"k" * 65: 1}), "field names"),
    (base(note="x" * 4100), "bytes"),
])
def test_each_bad_event_has_a_reason(item, reason):
    with pytest.raises(Invalid, match=None) as caught:
        parse(item)
    assert reason in str(caught.value)


def test_a_decision_id_must_be_the_tenants():
    with pytest.raises(Invalid, match="decision_id"):
        parse(base(decision_id="v1.x.y"), decision_ok=lambda d: False)


def test_one_bad_event_does_not_refuse_the_others():
    valid, rejected = parse_all("acme", [base(), base(event="nope"), base(event_id="e2")], lambda d: True, NOW)
    assert [index for index, _ in valid] == [0, 2]
    assert rejected == [{"index": 1, "reason": rejected[0]["reason"]}] and "unknown event type" in rejected[0]["reason"]


@pytest.mark.parametrize("body", [{}, "x", None, [], list(range(1001))])
def test_the_body_must_be_an_array_of_1_to_1000(body):
    with pytest.raises(BadRequest):
        event_array(body)
    assert len(event_array(list(range(1000)))) == 1000


def test_fingerprints_tell_resends_from_other_events():
    assert parse(base()).fingerprint == parse(base(event_time="2026-11-24T11:00:00+02:00")).fingerprint
    assert parse(base()).fingerprint != parse(base(session_id="s2")).fingerprint


def test_month_bucket_is_utc():
    assert month_bucket(datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))) == "202611"


def test_any_json_value_is_an_event_or_a_reason():
    """Arbitrary JSON in every field: parse_event returns an event or raises Invalid, nothing else."""
    from hypothesis import given, settings, strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
    times = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | values
    fields = st.fixed_dictionaries({}, optional={
        "event_id": st.text(max_size=140) | values, "event": st.sampled_from(["purchase", "game_end", "x"]) | values,
        "customer_id": st.text(max_size=3) | values, "session_id": st.just("s") | values, "event_time": times,
        "txn_amount": values, "won": values, "score": values, "country": values, "decision_id": values,
        "extra": values})

    @given(item=fields | values)
    @settings(max_examples=400, derandomize=True, deadline=None, database=None)
    def check(item):
        try:
            parse(item)
        except Invalid as reason:
            assert str(reason)

    check()


def test_the_events_body_limit_is_a_validated_setting():
    from app.settings import Settings, SettingsError

    assert Settings.from_env({}).max_events_body_bytes == 1024 * 1024
    assert Settings.from_env({"SLOTBANDIT_MAX_EVENTS_BODY_BYTES": "2097152"}).max_events_body_bytes == 2097152
    for bad in ("lots", "10", str(128 * 1024 * 1024)):
        with pytest.raises(SettingsError, match="SLOTBANDIT_MAX_EVENTS_BODY_BYTES"):
            Settings.from_env({"SLOTBANDIT_MAX_EVENTS_BODY_BYTES": bad})
