"""Bound statements of packed batches against the real Cassandra: ``bound`` serializes exactly as the
driver's ``bind``, and refuses what ``bind`` refuses with the driver's message."""
from datetime import datetime, timedelta, timezone

import pytest

from app.storage.batches import bound
from app.storage.customers import EVENT_ROW, GAME_ROW, PAYMENT_ROW
from app.storage.event_keys import READ_HOURS, WRITE

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 2, 10, 15, 30, 123000, tzinfo=timezone.utc)
ODD_TIMES = [datetime(2026, 11, 2, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=-5))),  # an offset, microseconds
             datetime(2026, 11, 2, 10, 15, 30, 999999),  # naive: read as UTC
             datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc),  # before the epoch
             1_700_000_000_000]  # milliseconds
KEY = ("acme", "c1", "202611", AT, "raw-0123")


@pytest.mark.parametrize("cql, values", [
    (EVENT_ROW.cql((True, True, False, True, True)), ("game_end", "s1", '{"won":true}', AT, *KEY)),
    (EVENT_ROW.cql((True,) * 5), ("purchase", "s1", "dec-1", '{"naïve":"☃"}', AT, *KEY)),
    (PAYMENT_ROW.cql((True, True, False, False)), ("purchase", 4.99, *KEY)),
    (GAME_ROW.cql((True, True)), (False, 8987.0, "acme", "c1", "s1", AT, "raw-0123")),
    (WRITE, ("c1", "f" * 64, AT, "acme", "2026110210", 7, "raw-0123")),
    (READ_HOURS, ("acme", "2026110210", [0, 3, 7])),
])
def test_bound_values_are_the_drivers(db, cql, values):
    statement = db.prepare(cql)
    assert bound(statement, values).values == statement.bind(values).values


@pytest.mark.parametrize("moment", ODD_TIMES)
def test_timestamps_are_the_drivers(db, moment):
    statement = db.prepare(WRITE)
    values = ("c1", "f", moment, "acme", "2026110210", 7, "raw-0123")
    assert bound(statement, values).values == statement.bind(values).values


def test_a_value_of_the_wrong_type_gets_the_drivers_message(db):
    statement = db.prepare(WRITE)
    with pytest.raises(TypeError, match="shard"):
        bound(statement, ("c1", "f", AT, "acme", "2026110210", "seven", "raw-0123"))
