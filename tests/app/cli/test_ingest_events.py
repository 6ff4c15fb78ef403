"""``slotbandit ingest-events``: NDJSON, CSV and Parquet files of either shape, against the test
Cassandra; the features equal those of the same events sent to POST /events."""
import csv
import json

import pytest

from tests.app.cli.test_tenants import assert_one_line_error
from tests.app.service.test_ingest import features, post, story
from tests.app.service.test_raw_events import PLAYER, SEED_EVENTS, SEED_FEATURES

pytestmark = pytest.mark.integration


def write_ndjson(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def summary(result):
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0].split()
    return {first[i].rstrip(":"): int(first[i + 1]) for i in range(0, len(first), 2)}


def test_ndjson_of_the_seed_events_loads_once_with_the_http_features(cli, client, tenant, tmp_path):
    path = write_ndjson(tmp_path / "seed.ndjson", SEED_EVENTS)
    assert summary(cli("ingest-events", path, "--tenant", tenant.name)) == {
        "rows": 5, "accepted": 5, "duplicates": 0, "refused": 0}
    assert features(client, tenant, PLAYER) == SEED_FEATURES
    assert summary(cli("ingest-events", path, "--tenant", tenant.name)) == {
        "rows": 5, "accepted": 0, "duplicates": 5, "refused": 0}
    assert post(client, tenant, SEED_EVENTS)["duplicates"] == 5  # one identity for both paths
    assert features(client, tenant, PLAYER) == SEED_FEATURES


def test_refused_rows_are_counted_per_reason_and_the_rest_loaded(cli, client, tenant, tmp_path):
    rows = [{**SEED_EVENTS[4], "txn_amount": "abc"}, {**SEED_EVENTS[4], "txn_amount": "4,99"}] + SEED_EVENTS
    path = tmp_path / "mixed.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{not json\n")
    result = cli("ingest-events", path, "--tenant", tenant.name)
    assert summary(result) == {"rows": 8, "accepted": 5, "duplicates": 0, "refused": 3}
    lines = result.stdout.splitlines()
    assert any(line.split()[0] == "2" and "txn_amount must be a number" in line and "first at row 1" in line
               for line in lines), lines
    assert any("line is not JSON" in line and "first at row 8" in line for line in lines), lines
    assert features(client, tenant, PLAYER) == SEED_FEATURES


def test_csv_with_every_value_a_string(cli, client, tenant, tmp_path):
    columns = sorted({name for event in SEED_EVENTS for name in event})
    path = tmp_path / "seed.csv"
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, columns)  # a cell an event does not have is empty: unset
        writer.writeheader()
        writer.writerows(SEED_EVENTS)
    assert summary(cli("ingest-events", path, "--tenant", tenant.name))["accepted"] == 5
    assert features(client, tenant, PLAYER) == SEED_FEATURES
    assert post(client, tenant, SEED_EVENTS)["duplicates"] == 5


def test_parquet(cli, client, tenant, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    columns = sorted({name for event in SEED_EVENTS for name in event})
    table = pa.table({name: [event.get(name) for event in SEED_EVENTS] for name in columns})
    pq.write_table(table, tmp_path / "seed.parquet")
    assert summary(cli("ingest-events", tmp_path / "seed.parquet", "--tenant", tenant.name))["accepted"] == 5
    assert features(client, tenant, PLAYER) == SEED_FEATURES


def test_the_contract_shape_loads_too(cli, client, make_tenant, tmp_path):
    by_file, by_http = make_tenant(), make_tenant()
    path = write_ndjson(tmp_path / "story.ndjson", story())
    assert summary(cli("ingest-events", path, "--tenant", by_file.name))["accepted"] == 10
    post(client, by_http, story())
    assert features(client, by_file) == features(client, by_http)


def test_input_errors_are_one_line(cli, tenant, tmp_path):
    assert_one_line_error(cli("ingest-events", tmp_path / "none.ndjson", "--tenant", tenant.name), "no such file")
    odd = tmp_path / "events.txt"
    odd.write_text("{}\n")
    assert_one_line_error(cli("ingest-events", odd, "--tenant", tenant.name), "--format")
    fake = tmp_path / "events.parquet"
    fake.write_text("not parquet")
    assert_one_line_error(cli("ingest-events", fake, "--tenant", tenant.name), "not a readable Parquet file")
    wrong = tmp_path / "events.ndjson"
    wrong.write_text("a,b,c\n1,2,3\n")
    assert_one_line_error(cli("ingest-events", wrong, "--tenant", tenant.name), "first line is not JSON")
    good = write_ndjson(tmp_path / "good.ndjson", SEED_EVENTS)
    assert_one_line_error(cli("ingest-events", good, "--tenant", "nobody-here"), "no tenant 'nobody-here'")


def test_a_file_that_goes_bad_half_way_ends_with_one_line(cli, tenant, tmp_path):
    columns = sorted({name for event in SEED_EVENTS for name in event})
    path = tmp_path / "latin.csv"
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, columns)
        writer.writeheader()
        writer.writerows(SEED_EVENTS)
    with open(path, "ab") as out:
        out.write(",".join(["caf\xe9"] * len(columns)).encode("latin-1") + b"\n")
    result = cli("ingest-events", path, "--tenant", tenant.name)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # after the progress bar's label
    assert last.startswith("slotbandit: ") and "line 7 is not UTF-8" in last, last
