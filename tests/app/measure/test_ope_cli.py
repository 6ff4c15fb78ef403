"""``slotbandit ope``: JSON shape, rejected rows, policy SPECs, Parquet, one-line errors.

Logs are drawn from the synthetic world of tests/bandit/ope_world.py, whose policy values are
known exactly; the command runs in-process through click's CliRunner.
"""
import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from app.cli import main
from tests.bandit.ope_world import BEST_TABLE, UNIFORM_TABLE, draw_log, true_value

ROWS = 4000


def write_csv(path, rows, header=("timestamp", "action", "reward", "propensity", "segment", "position")):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def world_rows():
    log = draw_log(ROWS, np.random.default_rng(17))
    return [("2026-11-24T09:00:00Z", a, int(r), p, c, 1)
            for a, r, p, c in zip(log.actions, log.rewards, log.propensities, log.contexts)]


def run(*args):
    return CliRunner().invoke(main, ["ope", *args], catch_exceptions=False)


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slotbandit: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_json_shape_and_truth_inside_the_intervals(tmp_path, world_rows):
    path = write_csv(tmp_path / "log.csv", world_rows)
    result = run("--log", str(path), "--policy", "uniform", "--bootstrap", "300", "--seed", "4")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert set(answer) == {"policy", "n", "estimates", "warnings"}
    assert answer["policy"] == "uniform" and answer["n"] == ROWS and answer["warnings"] == []
    assert set(answer["estimates"]) == {"ips", "snips", "dr"}
    for estimate in answer["estimates"].values():
        assert set(estimate) == {"value", "ci95"}
        low, high = estimate["ci95"]
        assert low <= estimate["value"] <= high
        assert low <= true_value(UNIFORM_TABLE) <= high
    again = run("--log", str(path), "--policy", "uniform", "--bootstrap", "300", "--seed", "4")
    assert json.loads(again.stdout) == answer


def test_thompson_beats_the_logging_policy_and_most_popular(tmp_path, world_rows):
    path = write_csv(tmp_path / "log.csv", world_rows)
    thompson = json.loads(run("--log", str(path), "--policy", "thompson", "--bootstrap", "200").stdout)
    popular = json.loads(run("--log", str(path), "--policy", "most_popular", "--bootstrap", "200").stdout)
    logged_mean = np.mean([row[2] for row in world_rows])
    # 4,000 rows teach Thompson each city's best action, worth 0.37 (the oracle's value);
    # one action for everyone is worth at most 0.25, the logging policy about 0.16.
    assert thompson["estimates"]["dr"]["ci95"][0] > popular["estimates"]["dr"]["ci95"][1]
    assert thompson["estimates"]["dr"]["ci95"][0] > logged_mean
    assert abs(thompson["estimates"]["dr"]["value"] - true_value(BEST_TABLE)) < 0.05


def test_bad_propensities_are_rejected_and_counted(tmp_path, world_rows):
    bad = [("t", "x", 1, p, "city:a", 1) for p in ("0", "1.5", "-0.2", "", "abc", "nan")]
    path = write_csv(tmp_path / "log.csv", world_rows[:500] + bad)
    answer = json.loads(run("--log", str(path), "--policy", "fixed:x", "--bootstrap", "50").stdout)
    assert answer["n"] == 500
    assert any("rejected 6 of 506 rows" in w and "(0, 1]" in w for w in answer["warnings"]), answer["warnings"]


def test_thompson_priors_file(tmp_path, world_rows):
    log_path = write_csv(tmp_path / "log.csv", world_rows[:40])
    priors = write_csv(tmp_path / "priors.csv", [("w", 5000, 1)], header=("action", "alpha", "beta"))
    spec = f"thompson:priors={priors}"
    answer = json.loads(run("--log", str(log_path), "--policy", spec, "--bootstrap", "50").stdout)
    fixed_w = json.loads(run("--log", str(log_path), "--policy", "fixed:w", "--bootstrap", "50").stdout)
    assert answer["policy"] == spec
    # A Beta(5000, 1) prior makes w win every draw: the same policy as fixed:w, the same estimates.
    assert answer["estimates"]["ips"]["value"] == pytest.approx(fixed_w["estimates"]["ips"]["value"])
    strength = run("--log", str(log_path), "--policy", "thompson:strength=5", "--bootstrap", "50")
    assert strength.exit_code == 0, strength.output


def test_parquet_log(tmp_path, world_rows):
    path = tmp_path / "log.parquet"
    actions, rewards, propensities, segments = zip(*[(r[1], r[2], r[3], r[4]) for r in world_rows])
    pq.write_table(pa.table({"action": list(actions), "reward": list(rewards), "propensity": list(propensities),
                             "segment": list(segments)}), path)
    csv_path = write_csv(tmp_path / "log.csv", world_rows)
    from_parquet = json.loads(run("--log", str(path), "--policy", "fixed:y", "--bootstrap", "100").stdout)
    from_csv = json.loads(run("--log", str(csv_path), "--policy", "fixed:y", "--bootstrap", "100").stdout)
    assert from_parquet == {**from_csv, "policy": "fixed:y"}


def test_parquet_boolean_rewards_count_as_clicks(tmp_path, world_rows):
    path = tmp_path / "bool.parquet"
    rows = world_rows[:300]
    pq.write_table(pa.table({"action": [r[1] for r in rows], "reward": [bool(r[2]) for r in rows],
                             "propensity": [r[3] for r in rows], "segment": [r[4] for r in rows]}), path)
    as_bool = json.loads(run("--log", str(path), "--policy", "uniform", "--bootstrap", "30").stdout)
    as_int = json.loads(run("--log", str(write_csv(tmp_path / "int.csv", rows)), "--policy", "uniform",
                            "--bootstrap", "30").stdout)
    assert as_bool == as_int


def test_poor_overlap_is_a_warning(tmp_path, world_rows):
    path = write_csv(tmp_path / "log.csv", world_rows)
    answer = json.loads(run("--log", str(path), "--policy", "fixed:never-shown", "--bootstrap", "20").stdout)
    assert any(w.startswith("poor overlap") for w in answer["warnings"])


@pytest.mark.parametrize("log_name, spec, fragments", [
    ("missing.csv", "uniform", ["log file", "missing.csv does not exist"]),
    ("log.csv", "bogus", ["unknown policy 'bogus'"]),
    ("log.csv", "fixed:", ["needs an action"]),
    ("log.csv", "thompson:priors=/no/such.csv", ["priors file", "does not exist"]),
    ("log.csv", "thompson:strength=-1", ["bad thompson option"]),
])
def test_bad_input_is_one_line(tmp_path, world_rows, log_name, spec, fragments):
    write_csv(tmp_path / "log.csv", world_rows[:10])
    assert_one_line_error(run("--log", str(tmp_path / log_name), "--policy", spec), *fragments)


def test_missing_column_and_unreadable_files(tmp_path):
    no_propensity = write_csv(tmp_path / "a.csv", [("x", 1)], header=("action", "reward"))
    assert_one_line_error(run("--log", str(no_propensity), "--policy", "uniform"), "lacks the column(s) propensity")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_one_line_error(run("--log", str(empty), "--policy", "uniform"), "is empty")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet at all")
    assert_one_line_error(run("--log", str(corrupt), "--policy", "uniform"), "cannot read Parquet file")
    only_bad = write_csv(tmp_path / "bad.csv", [("x", 1, 0)], header=("action", "reward", "propensity"))
    assert_one_line_error(run("--log", str(only_bad), "--policy", "uniform"), "no usable row", "rejected 1 of 1")


def test_help_explains_the_format():
    result = CliRunner().invoke(main, ["ope", "--help"])
    assert result.exit_code == 0
    for fragment in ("propensity", "most_popular", "thompson:priors=FILE", "snips", "ci95", "Parquet"):
        assert fragment in result.output, fragment
