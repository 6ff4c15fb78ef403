"""``slotbandit seed-priors`` on a real local SparkSession against the test Cassandra.

Histories come from benchmarks.generate_history (known true rates) or are written by hand to hit
one filtering rule at a time.
"""
from __future__ import annotations

import csv
import json

import pytest

from benchmarks.generate_history import aggregated_chunks, make_world, write_history
from app.storage.priors import PriorsStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 11
AGG_HEADER = ["platform", "slot_id", "creative_id", "city", "impressions", "clicks", "day"]


@pytest.fixture(scope="module")
def world():
    return make_world(SEED, n_cities=4, n_creatives=3, slot_id="home")


@pytest.fixture(scope="module")
def history_file(world, tmp_path_factory):
    """400 aggregated rows of about 500 impressions each: about 200,000 impressions."""
    path = tmp_path_factory.mktemp("history") / "history.parquet"
    write_history(path, aggregated_chunks(world, 400, SEED), "parquet")
    return path


def add_world_slot(tenant, world, extra=()):
    """The world's slot with its creatives (payload tags) plus ``extra`` {creative_id: tags}."""
    tenant.add_slot("home", creatives=())
    for creative_id in world.creatives:
        tenant.set_creative("home", creative_id, payload=world.payload(creative_id))
    for creative_id, tags in dict(extra).items():
        tenant.set_creative("home", creative_id, payload=json.dumps({"title": creative_id, "tags": list(tags)}))


def priors_of(db, tenant) -> dict:
    return {(r["segment"], r["creative_id"]): r for r in PriorsStore(db).read_rows(tenant.name, "web", "home")}


def write_rows(path, rows, header=AGG_HEADER):
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def test_priors_recover_the_true_rates(cli, db, tenant, world, history_file):
    add_world_slot(tenant, world)
    result = cli("seed-priors", "--history", history_file, "--tenant", tenant.name, "--platform", "web",
                 "--slot", "home", "--min-impressions", "1000", "--max-strength", "1000000")
    assert result.exit_code == 0, result.output
    priors = priors_of(db, tenant)
    assert {s for s, _ in priors} == {"global"} | {f"city:{c}" for c in world.cities}
    for (segment, creative_id), row in priors.items():
        if segment == "global":
            continue
        truth = world.rates[(segment.split(":", 1)[1], creative_id)]
        mean = row["alpha"] / (row["alpha"] + row["beta"])
        # Each (city, creative) has >= ~3,000 impressions at rates of 2-10 %: the binomial standard
        # error is <= sqrt(0.1 * 0.9 / 3000) = 0.0055; pooling pulls a little toward the slot mean.
        # 0.015 is about 3 standard errors plus that shrinkage.
        assert abs(mean - truth) < 0.015, (segment, creative_id, mean, truth)
        assert row["source"] == "history"
    assert "between-city strength" in result.stdout and "wrote" in result.stdout


def test_strength_is_capped_and_seeding_twice_gives_the_same_state(cli, db, tenant, world, history_file):
    add_world_slot(tenant, world)
    args = ("seed-priors", "--history", history_file, "--tenant", tenant.name, "--platform", "web",
            "--slot", "home", "--max-strength", "40")
    assert cli(*args).exit_code == 0
    first = {k: (r["alpha"], r["beta"], r["source"]) for k, r in priors_of(db, tenant).items()}
    assert all(a + b <= 40 + 1e-9 for a, b, _ in first.values())
    assert cli(*args).exit_code == 0
    second = {k: (r["alpha"], r["beta"], r["source"]) for k, r in priors_of(db, tenant).items()}
    assert second == first


def test_dry_run_writes_nothing(cli, db, tenant, world, history_file):
    add_world_slot(tenant, world)
    result = cli("seed-priors", "--history", history_file, "--tenant", tenant.name, "--platform", "web",
                 "--slot", "home", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout
    assert priors_of(db, tenant) == {}


def test_min_impressions_folds_a_city_and_cities_drops_others(cli, db, tenant, tmp_path):
    tenant.add_slot("home", creatives=("a", "b"))
    rows = [["web", "home", c, city, n, k, "2026-10-05"]
            for city, n, k in (("pune", 2000, 100), ("delhi", 2000, 60), ("agra", 50, 20), ("goa", 3000, 900))
            for c in ("a", "b")]
    path = write_rows(tmp_path / "h.csv", rows)
    result = cli("seed-priors", "--history", path, "--tenant", tenant.name, "--platform", "web", "--slot", "home",
                 "--min-impressions", "500", "--cities", "pune,delhi,agra,indore")
    assert result.exit_code == 0, result.output
    priors = priors_of(db, tenant)
    segments = {s for s, _ in priors}
    # agra is below 500 impressions: folded into the slot-wide level; goa is not listed: dropped.
    assert "city:agra" not in segments and "city:goa" not in segments
    assert {"city:pune", "city:delhi"} <= segments
    # Slot-wide counts include agra (folded) but not goa (dropped): (100 + 60 + 20 + 1) / (4050 + 2).
    glob = priors[("global", "a")]
    assert glob["alpha"] / (glob["alpha"] + glob["beta"]) == pytest.approx(181 / 4052, rel=1e-9)
    assert "city_not_listed" in result.stdout and "folded" in result.stdout
    # indore is listed but has no history: it gets the pooled prior, centred on the slot-wide mean.
    indore = priors[("city:indore", "a")]
    assert indore["source"] == "pooled"
    assert indore["alpha"] / (indore["alpha"] + indore["beta"]) == pytest.approx(181 / 4052, rel=1e-9)


def test_bad_rows_are_counted_and_never_used(cli, db, tenant, tmp_path):
    tenant.add_slot("home", creatives=("a",))
    good = ["web", "home", "a", "pune", "1000", "50", "2026-10-05"]
    rows = [good,
            ["web", "home", "a", "pune", "many", "5", "soon"],  # non-numeric (and an unreadable day)
            ["web", "home", "a", "pune", "99999999999999999999999", "5", ""],  # too large: non-numeric
            ["web", "home", "a", "pune", "10", "20", ""],      # clicks > impressions
            ["web", "home", "zz", "pune", "1000", "999", ""],  # unknown creative
            ["web", "home", "a", "", "100", "5", ""],          # blank city: slot-wide only
            ["web", "home", "a", "p@ne!", "100", "5", ""],     # malformed city: slot-wide only
            ["web", "other", "a", "pune", "1000", "999", ""]]  # another slot
    path = write_rows(tmp_path / "bad.csv", rows)
    result = cli("seed-priors", "--history", path, "--tenant", tenant.name, "--platform", "web", "--slot", "home",
                 "--min-impressions", "1", "--max-strength", "1000000")
    assert result.exit_code == 0, result.output
    assert "2  non_numeric" in result.stdout
    for reason in ("clicks_gt_impressions", "unknown_creative", "blank_city", "malformed_city",
                   "other_slot"):
        assert f"1  {reason}" in result.stdout, reason
    priors = priors_of(db, tenant)
    assert ("global", "zz") not in priors
    glob = priors[("global", "a")]
    assert (glob["alpha"], glob["beta"]) == pytest.approx((1 + 60, 1 + 1200 - 60))


def test_duplicate_event_ids_count_once(cli, db, tenant, tmp_path):
    tenant.add_slot("home", creatives=("a",))
    header = ["platform", "slot_id", "creative_id", "city", "clicked", "event_id"]
    rows = [["web", "home", "a", "pune", "1", "e1"], ["web", "home", "a", "pune", "1", "e1"],
            ["web", "home", "a", "pune", "0", "e2"], ["web", "home", "a", "pune", "0", "e3"]]
    path = write_rows(tmp_path / "imp.csv", rows, header)
    result = cli("seed-priors", "--history", path, "--tenant", tenant.name, "--platform", "web", "--slot", "home",
                 "--min-impressions", "1")
    assert result.exit_code == 0, result.output
    assert "1  duplicate_event" in result.stdout
    glob = priors_of(db, tenant)[("global", "a")]
    assert (glob["alpha"], glob["beta"]) == pytest.approx((1 + 1, 1 + 2))


@pytest.fixture(scope="module")
def spread_world():
    """A world whose creatives' tags set their rates well apart: seed 4 gives c1 (sale, video) a
    slot-wide rate of about 0.095 against a mean of 0.060 over the four creatives."""
    return make_world(4, n_cities=4, n_creatives=4, slot_id="home")


@pytest.fixture(scope="module")
def spread_history(spread_world, tmp_path_factory):
    path = tmp_path_factory.mktemp("spread") / "history.parquet"
    write_history(path, aggregated_chunks(spread_world, 400, SEED), "parquet")
    return path


def test_a_new_creative_gets_a_weak_prior_from_the_cold_start_model(cli, db, tenant, spread_world, spread_history):
    world = spread_world
    # The twin of the new creative: the existing one whose tags move its rate furthest from the others'.
    mean_rates = {c: sum(world.rates[(city, c)] for city in world.cities) / len(world.cities)
                  for c in world.creatives}
    slot_mean = sum(mean_rates.values()) / len(mean_rates)
    twin_id = max(world.creatives, key=lambda c: abs(mean_rates[c] - slot_mean))
    add_world_slot(tenant, world, extra={"fresh": world.tags[twin_id]})
    result = cli("seed-priors", "--history", spread_history, "--tenant", tenant.name, "--platform", "web",
                 "--slot", "home", "--min-impressions", "1000")
    assert result.exit_code == 0, result.output
    priors = priors_of(db, tenant)
    fresh = priors[("global", "fresh")]
    assert fresh["source"] == "cold-start"
    assert fresh["alpha"] + fresh["beta"] == pytest.approx(5.0)
    # Same tags as an existing creative: the model, which sees only city and tags, predicts that
    # creative's slot-wide rate; the logistic fit on ~200,000 impressions is within 0.01 of it.
    known = priors[("global", twin_id)]
    predicted, twin = fresh["alpha"] / 5.0, known["alpha"] / (known["alpha"] + known["beta"])
    assert predicted == pytest.approx(twin, abs=0.01)
    # A model that ignored the tags would predict the slot-wide rate instead: in this world it lies
    # more than twice the fit's accuracy away from the twin's, and the prediction must be far nearer the twin.
    seeded = [p["alpha"] / (p["alpha"] + p["beta"]) for (segment, creative), p in priors.items()
              if segment == "global" and creative != "fresh"]
    slot_wide = sum(seeded) / len(seeded)
    assert abs(twin - slot_wide) > 0.02
    assert abs(predicted - twin) < abs(predicted - slot_wide) / 2
    assert ("city:" + world.cities[0], "fresh") in priors


def test_seeded_priors_reach_the_stats_and_decisions(cli, client, db, tenant, world, history_file):
    add_world_slot(tenant, world)
    assert cli("seed-priors", "--history", history_file, "--tenant", tenant.name, "--platform", "web",
               "--slot", "home", "--max-strength", "40").exit_code == 0
    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    glob = next(s for s in stats["segments"] if s["segment"] == "global")
    stored = priors_of(db, tenant)
    for row in glob["creatives"]:
        seeded = stored[("global", row["creative_id"])]
        assert row["alpha"] == pytest.approx(seeded["alpha"], rel=1e-3)


@pytest.mark.parametrize("args, fragment", [
    (("--history", "/nonexistent/h.csv"), "does not exist"),
    (("--history", "{bad}"), "needs either"),
    (("--history", "{good}", "--slot", "nope"), "has no slot"),
    (("--history", "{good}", "--cities", " , "), "--cities"),
])
def test_bad_input_is_one_line_and_non_zero(cli, tenant, tmp_path, args, fragment):
    tenant.add_slot("home", creatives=("a",))
    bad = write_rows(tmp_path / "bad.csv", [["x", "y"]], header=["foo", "bar"])
    good = write_rows(tmp_path / "good.csv", [["web", "home", "a", "pune", "10", "1", ""]])
    args = [a.format(bad=bad, good=good) for a in args]
    if "--slot" not in args:
        args += ["--slot", "home"]
    result = cli("seed-priors", "--tenant", tenant.name, "--platform", "web", *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("slotbandit: ") and fragment in lines[-1], result.stderr
    assert "Traceback" not in result.stderr
