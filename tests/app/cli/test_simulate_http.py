"""``slotbandit simulate`` end to end: 5,000 visitors of the demo world through a real gunicorn service.

The visitors (city, clicks) come from a fixed seed; the service's own Thompson draws are not seeded
and two workers refresh their posteriors independently, so thresholds must hold for almost every
run of the policy, not for one. They were derived from the same world run in process
(bandit.sim.clicks.run_in_process; visitor seed 7 with 100 policy seeds plus 20 other visitor seeds;
posteriors refreshed every 30-60 visitors, like the service's 0.2 s refresh at this load):

- In 10 of the 120 runs ONE dense city is still split between its favourite (0.12) and a runner-up
  (0.05-0.07) after its ~1,250 visitors, and its late best share is below 0.5. Plain per-city
  Thompson sampling without pooling does the same about 9% of the time at this horizon, so this is
  the policy's nature and not a defect (tests/bandit/sim/test_clicks.py saw 4 in 100 seed pairs
  and therefore fixes the policy's seed, which a live service does not allow). Two dense cities
  stalling together was never seen (per-city rate p ~ 0.03, so about 3 p^2 ~ 0.3%). Hence: at
  least two of the three dense cities must show their favourite to more than half of their last
  quarter. A stalled city can end slightly below a uniform split in its last quarter when the
  posteriors lag further behind the visitors (impressions reach Cassandra up to 0.1 s after the
  decision, then up to 0.2 s until the next refresh: about 90 visitors at this load): in 100
  in-process runs with a 90-visitor lag the lowest last-quarter rate of a dense city was 0.94 x its
  uniform rate, and one live run measured 0.86 x. So each dense city must keep at least 0.75 x the
  uniform rate there: a city the policy drove onto its worst banners (0.5 x or less) fails.
- Clicks were at least 9.4 standard deviations above the uniform-split expectation in every run;
  under a uniform split the standard deviation is at most sqrt(expected clicks) (~15 of ~228), so
  "more than 4 sigma above" fails by chance with probability ~3e-5 for a policy that learned nothing
  and is met with a wide margin by one that learns.
"""
import math

import pytest

from app.cli.http_simulation import run_http_simulation
from bandit.sim import demo_world
from benchmarks.live_server import LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DENSE_CITIES = ("mumbai", "delhi", "bengaluru")
VISITORS = 5000


@pytest.fixture
def server(settings):
    live = LiveServer(settings, workers=2).start()
    yield live
    live.stop()


def test_http_simulation_learns_each_dense_citys_favourite(server, make_tenant, runtime):
    world = demo_world()
    tenant = make_tenant("sim")
    tenant.add_slot("home-banner", creatives=world.creative_ids)

    report = run_http_simulation(server.url, tenant.key, "home-banner", "web", VISITORS, seed=7,
                                 progress=lambda message: None)

    assert report.visitors == VISITORS
    results = report.cities
    late_best = {city: results[city].late_best_share for city in DENSE_CITIES}
    assert sum(share > 0.5 for share in late_best.values()) >= 2, late_best
    for city in DENSE_CITIES:
        shown = report.shown[city]
        late = shown[len(shown) - math.ceil(len(shown) / 4):]
        late_rate = sum(world.click_rates[city][creative] for creative in late) / len(late)
        assert late_rate >= 0.75 * world.uniform_rate(city), (city, late_rate, late_best)
    assert report.clicks > report.uniform_clicks + 4 * math.sqrt(report.uniform_clicks), report.format_table()

    # What the service stored agrees with what the visitors did: clicks are written before POST /click
    # answers; impressions once the workers drained their queues on SIGTERM.
    assert server.stop() == 0
    counts = runtime.counts.read_slot(tenant.name, "web", "home-banner")
    assert sum(c.impressions for c in counts["global"].values()) == VISITORS
    assert sum(c.clicks for c in counts["global"].values()) == report.clicks
    for city in DENSE_CITIES:
        city_counts = counts[f"city:{city}"]
        assert sum(c.impressions for c in city_counts.values()) == results[city].visitors
        assert sum(c.clicks for c in city_counts.values()) == results[city].clicks


def test_simulate_drift_prints_the_new_best_per_period_for_the_slots_settings(server, make_tenant, runtime, cli):
    tenant = make_tenant("drift")
    tenant.add_slot("fade", creatives=["a", "b", "c"])
    tenant.db.execute("UPDATE slots SET half_life_s = 4, min_share = 0.05 WHERE tenant = ? AND platform = 'web' "
                      "AND slot_id = 'fade'", (tenant.name,))
    result = cli("simulate", "--drift", "--url", server.url, "--api-key", tenant.key, "--slot", "fade",
                 "--duration", "6", "--change-after", "3", "--rate", "20", "--period", "2")
    assert result.exit_code == 0, result.output
    assert "half_life_s 4, min_share 0.05; a wears out, b rises" in result.stdout
    assert "<- change" in result.stdout and "total expected regret" in result.stdout
    assert "new best shown to" in result.stdout and "of the visitors of the last 3 s" in result.stdout
    assert server.stop() == 0
    counts = runtime.counts.read_slot(tenant.name, "web", "fade")
    assert sum(c.impressions for c in counts["global"].values()) == 120  # 6 s at 20 a second


@pytest.mark.parametrize("args, fragment", [
    (["--change-after", "10", "--duration", "5"], "--change-after must be in (0, --duration)"),
    (["--rate", "0"], "--rate must be in (0, 500]"),
])
def test_simulate_drift_bad_input_is_one_line(cli, args, fragment):
    result = cli("simulate", "--drift", "--api-key", "k", "--url", "http://127.0.0.1:9", *args)
    assert result.exit_code != 0 and fragment in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
