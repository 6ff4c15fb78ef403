import math

import numpy as np
import pytest

from bandit import ThompsonConfig, ThompsonPolicy
from bandit.sim import SimulationReport, SyntheticWorld, demo_world, run_in_process

DENSE = ("mumbai", "delhi", "bengaluru")
SPARSE = ("pune", "jaipur", "lucknow", "nagpur", "indore")


def small_world():
    return SyntheticWorld(
        creative_ids=("x", "y"),
        city_weights={"here": 3.0, "there": 1.0},
        click_rates={"here": {"x": 0.1, "y": 0.3}, "there": {"x": 0.2, "y": 0.0}},
    )


def test_world_knows_best_creative_and_uniform_rate():
    world = small_world()
    assert world.best_creative("here") == "y"
    assert world.best_creative("there") == "x"
    assert world.uniform_rate("here") == pytest.approx(0.2)
    assert world.uniform_rate("there") == pytest.approx(0.1)


def test_cities_are_drawn_by_normalised_weight():
    # Share of 20,000 visitors from "here" (weight 3 of 4): standard error
    # sqrt(0.75 * 0.25 / 20000) = 0.0031; allow 4 of them.
    rng = np.random.default_rng(0)
    cities = [small_world().sample_city(rng) for _ in range(20_000)]
    assert cities.count("here") / 20_000 == pytest.approx(0.75, abs=4 * 0.0031)


def test_clicks_happen_at_the_true_rate():
    # 20,000 visitors at rate 0.3: standard error sqrt(0.3 * 0.7 / 20000) = 0.0032.
    rng = np.random.default_rng(1)
    clicks = sum(small_world().clicked("here", "y", rng) for _ in range(20_000))
    assert clicks / 20_000 == pytest.approx(0.3, abs=4 * 0.0032)


def test_world_needs_a_rate_for_every_city_and_creative():
    with pytest.raises(ValueError, match=r"click_rates\['there'\]\['y'\] must be in \[0, 1\]"):
        SyntheticWorld(("x", "y"), {"here": 1.0, "there": 1.0}, {"here": {"x": 0.1, "y": 0.2},
                                                                  "there": {"x": 0.1}})


def test_world_rejects_rates_outside_zero_one():
    with pytest.raises(ValueError, match=r"but 1.5 is given"):
        SyntheticWorld(("x",), {"here": 1.0}, {"here": {"x": 1.5}})


def test_demo_world_has_ten_banners_and_eight_cities():
    world = demo_world()
    assert world.creative_ids == tuple(f"banner-{i:02d}" for i in range(1, 11))
    assert set(world.city_weights) == set(DENSE + SPARSE)
    total = sum(world.city_weights.values())
    for city in DENSE:
        assert world.city_weights[city] / total == pytest.approx(0.25)
    assert sum(world.city_weights[c] for c in SPARSE) / total == pytest.approx(0.25)


def test_demo_dense_cities_each_have_their_own_clear_favourite():
    world = demo_world()
    assert len({world.best_creative(city) for city in DENSE}) == 3
    for city in DENSE:
        rates = sorted(world.click_rates[city].values(), reverse=True)
        assert rates[0] >= 2 * rates[1]


def test_demo_sparse_cities_are_close_to_the_dense_average():
    world = demo_world()
    for creative_id in world.creative_ids:
        average = np.mean([world.click_rates[city][creative_id] for city in DENSE])
        for city in SPARSE:
            assert world.click_rates[city][creative_id] == pytest.approx(average, rel=0.11)


def test_report_scores_recorded_visitors():
    report = SimulationReport(small_world())
    shown = ["x", "x", "y", "y", "y", "y", "y", "y"]  # last quarter: two "y"
    for index, creative_id in enumerate(shown):
        report.record("here", creative_id, clicked=index % 2 == 0)
    here = report.cities["here"]
    assert (here.visitors, here.clicks, here.ctr) == (8, 4, 0.5)
    assert here.best_creative == "y"
    assert here.best_share == pytest.approx(6 / 8)
    assert here.late_best_share == 1.0
    assert here.expected_regret == pytest.approx(2 * (0.3 - 0.1))
    assert report.uniform_clicks == pytest.approx(8 * 0.2)
    assert report.click_lift == pytest.approx(4 / 1.6 - 1)
    assert math.isnan(report.cities["there"].ctr)


def test_report_table_lists_every_city_and_the_total():
    report = SimulationReport(small_world())
    report.record("here", "y", clicked=True)
    table = report.format_table()
    assert "here" in table and "there" in table and "total" in table
    assert "expected regret" in table


def test_report_rejects_unknown_cities_and_creatives():
    report = SimulationReport(small_world())
    with pytest.raises(ValueError, match="city must be a city of the world, but 'elsewhere'"):
        report.record("elsewhere", "x", clicked=False)
    with pytest.raises(ValueError, match="creative_id must be a creative of the world, but 'z'"):
        report.record("here", "z", clicked=False)


def test_no_visitors_no_report_lines():
    policy = ThompsonPolicy(ThompsonConfig(), np.random.default_rng(0))
    report = run_in_process(small_world(), policy, 0, np.random.default_rng(0))
    assert report.visitors == 0 and report.clicks == 0


def test_every_visitor_is_counted_once():
    policy = ThompsonPolicy(ThompsonConfig(propensity_draws=200), np.random.default_rng(0))
    report = run_in_process(small_world(), policy, 300, np.random.default_rng(1), refresh_every=7)
    assert report.visitors == 300
    assert sum(len(shown) for shown in report.shown.values()) == 300


def test_policy_learns_each_dense_city_favourite():
    # Thompson sampling is random: over 100 seed pairs (policy seed s, visitors
    # seed s + 1) this run left a dense city below a late best share of 0.5 in 4,
    # all from a few unlucky early clicks, so a fixed seed is part of the test.
    # Clicks exceeded the uniform expectation (~228, sd ~15) by a factor of at least
    # 1.85 in all 100. Fewer Monte Carlo draws than the service keeps the test fast;
    # they change the logged propensities, not the choices.
    world = demo_world()
    policy = ThompsonPolicy(ThompsonConfig(propensity_draws=2_000), np.random.default_rng(0))
    report = run_in_process(world, policy, 5_000, np.random.default_rng(1), refresh_every=50)
    for city in DENSE:
        assert report.cities[city].late_best_share > 0.5, report.format_table()
    assert report.clicks > report.uniform_clicks
