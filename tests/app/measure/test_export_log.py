"""``slotbandit export-log`` against the real Cassandra: one row per decision, joined to its click,
readable by ``slotbandit ope``."""
import csv
import json
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from app.measure.propensity_log import COLUMNS

pytestmark = pytest.mark.integration


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def traffic(client, tenant, runtime):
    """40 decisions on a slot with a 50% holdout, every third clicked; flushed to Cassandra."""
    tenant.add_slot("home", creatives=["a", "b", "c"])
    tenant.add_slot("other", creatives=["z"])
    tenant.db.execute("UPDATE slots SET holdout_share = 0.5 WHERE tenant = ? AND platform = 'web' AND slot_id = 'home'",
                      (tenant.name,))
    runtime.slots.invalidate((tenant.name, "web", "home"))
    decisions, clicked = [], set()
    for i in range(40):
        city = ("pune", "delhi", None)[i % 3]
        query = f"customer_id=u{i}&referrer=mail" + (f"&city={city}" if city else "")
        body = client.get(f"/slot/home/creative?platform=web&{query}", headers=tenant.headers).get_json()
        decisions.append((body, city, f"u{i}"))
        if i % 3 == 0:
            client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers)
            clicked.add(body["decision_id"])
    client.get("/slot/other/creative?platform=web", headers=tenant.headers)
    runtime.writer.flush()
    return decisions, clicked


def test_csv_export_joins_clicks_and_feeds_ope(cli, tenant, traffic, tmp_path):
    decisions, clicked = traffic
    out = tmp_path / "log.csv"
    since = iso(datetime.now(timezone.utc) - timedelta(hours=1))
    result = cli("export-log", "--since", since, "--tenant", tenant.name, "--slot", "home", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote 40 decisions to {out} (csv)" in result.stdout
    assert f"{tenant.name}/web/home: 40 decisions" in result.stderr
    with out.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == COLUMNS
        rows = {row["decision_id"]: row for row in reader}
    assert len(rows) == 40
    for body, city, customer in decisions:
        row = rows[body["decision_id"]]
        assert row["action"] == body["creative"]["creative_id"]
        assert row["policy"] == body["policy"]
        assert float(row["propensity"]) == pytest.approx(body["propensity"], abs=1e-6)
        assert row["reward"] == ("1" if body["decision_id"] in clicked else "0")
        assert row["decided_by"] == body["segment"]
        assert row["segment"] == (f"city:{city}" if city else "global")
        assert (row["city"], row["customer_id"], row["referrer"]) == (city or "", customer, "mail")
        assert (row["tenant"], row["platform"], row["slot_id"]) == (tenant.name, "web", "home")
    assert {row["policy"] for row in rows.values()} == {"thompson", "holdout"}

    evaluation = cli("ope", "--log", str(out), "--policy", "uniform", "--bootstrap", "50")
    assert evaluation.exit_code == 0, evaluation.output
    assert json.loads(evaluation.stdout)["n"] == 40


def test_parquet_export_and_the_time_window(cli, tenant, traffic, tmp_path):
    out = tmp_path / "log.parquet"
    since = iso(datetime.now(timezone.utc) - timedelta(hours=2))
    result = cli("export-log", "--since", since, "--tenant", tenant.name, "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert tuple(table.column_names) == COLUMNS
    assert sorted(table.column("slot_id").to_pylist()) == ["home"] * 40 + ["other"]
    assert sum(table.column("reward").to_pylist()) == len(traffic[1])
    assert json.loads(cli("ope", "--log", str(out), "--policy", "most_popular", "--bootstrap", "20").stdout)["n"] == 41

    past = tmp_path / "past.csv"
    until = iso(datetime.now(timezone.utc) - timedelta(hours=1))
    assert cli("export-log", "--since", since, "--until", until, "--tenant", tenant.name,
               "--out", str(past)).exit_code == 0
    assert past.read_text().strip().splitlines() == [",".join(COLUMNS)]


@pytest.mark.parametrize("args, fragment", [
    (["--since", "yesterday"], "--since must be a date"),
    (["--since", "2026-11-24T10:00:00Z", "--until", "2026-11-24T09:00:00Z"], "must be before --until"),
    (["--since", "2020-01-01T00:00:00Z", "--until", "2022-01-01T00:00:00Z"], "longer than 366 days"),
])
def test_bad_input_is_one_line(cli, tmp_path, args, fragment):
    result = cli("export-log", *args, "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slotbandit: ") and fragment in lines[0], result.stderr


def test_missing_directory_is_one_line(cli, tmp_path):
    result = cli("export-log", "--since", "2026-11-24T00:00:00Z", "--out", str(tmp_path / "no" / "x.csv"))
    assert result.exit_code == 1 and "directory" in result.stderr and len(result.stderr.strip().splitlines()) == 1
