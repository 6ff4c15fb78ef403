"""Loading a file chunk after chunk against the real Cassandra: repeats across chunks and events stored
before the load count once, and a load stopped half-way is completed by running it again, with the
features of one load."""
import json
from datetime import datetime, timezone

import pytest

from app.service.bulk_events import ChunkLoader, compact_id, load_events
from app.service.event_files import open_event_file
from app.service.event_input import parse_all
from app.storage.event_keys import EventKeyStore
from tests.app.service.test_ingest import ev, features, post, story

pytestmark = pytest.mark.integration


def load(db, tenant, path, chunk_rows=3, loader=None):
    loader = loader or ChunkLoader(db, tenant.name, lambda decision_id: False)
    return load_events(loader, open_event_file(str(path)), lambda units: None, chunk_rows=chunk_rows)


def write_ndjson(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_repeats_in_the_next_chunks_count_once(db, client, tenant, make_tenant, tmp_path):
    events = story()
    # The next chunk's keys are read while this chunk is written: e1 comes again one chunk later,
    # e2 two chunks later, e3 within its own chunk.
    rows = events[:3] + [events[0]] + events[3:5] + [events[1], events[2]] + events[5:]
    summary = load(db, tenant, write_ndjson(tmp_path / "repeats.ndjson", rows))
    assert (summary.rows, summary.accepted, summary.duplicates) == (len(rows), 10, len(rows) - 10)
    again = load(db, tenant, tmp_path / "repeats.ndjson")
    assert (again.accepted, again.duplicates) == (0, len(rows))
    once = make_tenant()
    load(db, once, write_ndjson(tmp_path / "story.ndjson", events), chunk_rows=100)
    assert features(client, tenant) == features(client, once)


def test_a_load_stopped_half_way_is_completed_by_the_next(db, client, tenant, make_tenant, tmp_path):
    path = write_ndjson(tmp_path / "story.ndjson", story())
    loader = ChunkLoader(db, tenant.name, lambda decision_id: False)
    insert, calls = loader.keys.insert, []

    def insert_then_stop(events, now):
        calls.append(len(events))
        if len(calls) == 2:  # the rows of the second chunk are written, its keys are not
            raise RuntimeError("stopped")
        insert(events, now)

    loader.keys.insert = insert_then_stop
    with pytest.raises(RuntimeError, match="stopped"):
        load(db, tenant, path, loader=loader)
    rerun = load(db, tenant, path)
    assert (rerun.accepted, rerun.duplicates) == (10 - calls[0], calls[0])
    once = make_tenant()
    load(db, once, path, chunk_rows=100)
    assert features(client, tenant) == features(client, once)
    assert load(db, tenant, path).accepted == 0


def test_refused_rows_are_counted_with_their_row_numbers(db, tenant, tmp_path):
    rows = [ev("a1", "purchase", 0, txn_amount="abc"), ev("a2", "app_launched", 1),
            ev("a3", "game_end", 2), ev("a4", "purchase", 3, txn_amount="x")]
    summary = load(db, tenant, write_ndjson(tmp_path / "bad.ndjson", rows), chunk_rows=2)
    assert (summary.accepted, sum(summary.refused.values())) == (1, 3)
    assert sorted(summary.first_row.values()) == [1, 3]  # txn_amount first at row 1, won at row 3


def test_events_stored_over_http_before_the_load_are_duplicates(db, client, tenant, tmp_path):
    post(client, tenant, story()[:4])
    summary = load(db, tenant, write_ndjson(tmp_path / "story.ndjson", story()))
    assert (summary.accepted, summary.duplicates) == (6, 4)


def test_every_key_of_an_hour_is_read_past_a_page(db, tenant):
    # More keys in one hour than the driver fetches in one page (5,000).
    items = [ev(f"k{i}", "game_start", i / 10000) for i in range(6000)]
    events = [event for _, event in parse_all(tenant.name, items, lambda decision_id: False)[0]]
    keys = EventKeyStore(db)
    keys.insert(events, datetime.now(timezone.utc))
    [hour] = {event.hour for event in events}
    assert keys.ids_of_hours(tenant.name, [hour]) == {hour: {f"k{i}" for i in range(6000)}}


def test_raw_ids_are_kept_as_numbers_and_other_ids_as_they_are():
    digits = "0123456789abcdef" * 2
    assert compact_id("raw-" + digits) == int(digits, 16)
    for other in ("raw-" + digits.upper(), "raw-" + digits[:31], "e1", "raw-" + digits + "0"):
        assert compact_id(other) == other
