"""Feature segments end to end (real Cassandra): fit and show through the CLI, decisions with only a
customer_id land in the customer's leaf (response and stats), a slot without a model reads no
features, and a stored or cleared model takes effect within seconds."""
import time
from datetime import timedelta

import numpy as np
import pytest

from app.service.feature_segments import segmenter
from tests.app.jobs.training_history import History, hour_start, offer_slot

pytestmark = pytest.mark.integration

WAIT_S = 5.0  # model refresh (0.5 s in tests) + impression write + posterior refresh (0.2 s), with margin


def wait_until(condition, timeout_s=WAIT_S, poll_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)
    return condition()


@pytest.fixture
def shop(tenant, db):
    """History of a uniform policy where DE customers buy 'pack' and US customers buy 'coins'.

    30 customers per country, two decisions each, a day apart; a click and a purchase when the
    offer shown is the country's favourite (seeded)."""
    slot = offer_slot(tenant)
    h = History(db, tenant.name, slot)
    rng = np.random.default_rng(3)
    start = hour_start(6)
    favourite = {"DE": ("pack", 9.99), "US": ("coins", 4.99)}
    for n in range(60):
        country = "DE" if n % 2 else "US"
        customer = f"{country.lower()}-{n}"
        h.customer_event(customer, "app_launched", start - timedelta(hours=2), country=country)
        for day in range(2):
            at = start + timedelta(days=day, minutes=n)
            offer = str(rng.choice(["pack", "coins"]))
            won = offer == favourite[country][0]
            h.decision(f"{customer}-{day}", at, offer, 0.5, customer_id=customer,
                       clicked_at=at + timedelta(minutes=1) if won else None)
            if won:
                h.customer_event(customer, "purchase", at + timedelta(minutes=2), txn_amount=favourite[country][1],
                                 sku=offer)
    return tenant, slot, start


def fit(cli, tenant, slot, since, *extra):
    return cli("segments", "fit", "--tenant", tenant.name, "--platform", "android", "--slot", slot,
               "--since", since.isoformat(), "--horizon", "1d", "--max-depth", "1", "--min-leaf", "20", *extra)


def decide(client, tenant, slot, **params):
    answer = client.get(f"/slot/{slot}/creative", query_string={"platform": "android", **params},
                        headers=tenant.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def stats_segments(client, tenant, slot):
    answer = client.get(f"/slot/{slot}/stats", query_string={"platform": "android"}, headers=tenant.headers)
    assert answer.status_code == 200
    return {s["segment"]: s for s in answer.get_json()["segments"]}


def de_leaf(cli, tenant, slot):
    """The segment of the DE leaf, read from `segments show`."""
    shown = cli("segments", "show", "--tenant", tenant.name, "--platform", "android", "--slot", slot)
    assert shown.exit_code == 0, shown.output
    line = next(l for l in shown.output.splitlines() if l.startswith("feature:") and "country=DE" in l)
    return line.split()[0], shown.output


def test_fit_splits_on_country_and_show_prints_the_stored_model(cli, shop):
    tenant, slot, start = shop
    dry = fit(cli, tenant, slot, start - timedelta(hours=1), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "if country = DE:" in dry.output and "dry run: the model is not stored" in dry.output
    missing = cli("segments", "show", "--tenant", tenant.name, "--platform", "android", "--slot", slot)
    assert missing.exit_code == 1 and "has no segment model" in missing.output
    stored = fit(cli, tenant, slot, start - timedelta(hours=1))
    assert stored.exit_code == 0 and "stored the segment model" in stored.output
    segment, shown = de_leaf(cli, tenant, slot)
    assert "on 120 decisions" in shown
    # One leaf per country with 60 decisions each; each leaf's best offer is its favourite.
    rows = {l.split()[0]: l.split() for l in shown.splitlines() if l.startswith("feature:")}
    assert sorted(r[1] for r in rows.values()) == ["60", "60"]
    assert rows[segment][2] == "pack" and "coins" in [r[2] for s, r in rows.items() if s != segment]


def test_fit_with_too_little_history_is_one_line(cli, shop):
    tenant, slot, start = shop
    result = fit(cli, tenant, slot, start + timedelta(days=1, hours=2))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("slotbandit: cannot fit segments: 0 usable rows")


def test_a_history_without_revenue_stores_no_model(cli, tenant, db):
    slot = offer_slot(tenant, "quiet")
    h = History(db, tenant.name, slot)
    start = hour_start(3)
    for n in range(50):
        h.customer_event(f"q{n}", "app_launched", start - timedelta(hours=1), country="DE" if n % 2 else "US")
        h.decision(f"q{n}", start + timedelta(minutes=n), "pack" if n % 3 else "coins", 0.5, customer_id=f"q{n}")
    result = fit(cli, tenant, slot, start - timedelta(hours=1))
    assert result.exit_code == 1
    assert "-> feature:n0 (50 rows" in result.output
    assert result.output.strip().splitlines()[-1].startswith("slotbandit: no split separates customers")
    shown = cli("segments", "show", "--tenant", tenant.name, "--platform", "android", "--slot", slot)
    assert shown.exit_code == 1


def test_decision_with_customer_id_lands_in_the_customers_leaf(cli, client, runtime, shop):
    tenant, slot, start = shop
    assert fit(cli, tenant, slot, start - timedelta(hours=1)).exit_code == 0
    segment, _ = de_leaf(cli, tenant, slot)
    History(runtime.db, tenant.name, slot).customer_event("new-de", "app_launched", hour_start(0) - timedelta(hours=1),
                                                          country="DE")
    # The leaf has no impressions yet, so the first decisions are made on 'global' but counted in the leaf.
    first = decide(client, tenant, slot, customer_id="new-de")
    assert first["segment"] in ("global", segment)
    assert wait_until(lambda: stats_segments(client, tenant, slot).get(segment))
    later = wait_until(lambda: decide(client, tenant, slot, customer_id="new-de")["segment"] == segment)
    assert later, "decisions never moved to the customer's leaf"
    impressions = sum(c["impressions"] for c in stats_segments(client, tenant, slot)[segment]["creatives"])
    assert impressions >= 1
    # A tenant's own segment still wins over the feature leaf.
    assert decide(client, tenant, slot, customer_id="new-de", segment="vip")["segment"] in ("global", "segment:vip")


def test_slot_without_a_model_reads_no_features_and_a_new_model_is_picked_up(cli, client, runtime, shop):
    tenant, slot, start = shop
    features = segmenter(runtime).features
    History(runtime.db, tenant.name, slot).customer_event("fresh-de", "app_launched",
                                                          hour_start(0) - timedelta(hours=1), country="DE")
    reads = features.reads
    for _ in range(3):
        assert decide(client, tenant, slot, customer_id="fresh-de")["segment"] == "global"
    assert features.reads == reads
    assert fit(cli, tenant, slot, start - timedelta(hours=1)).exit_code == 0
    segment, _ = de_leaf(cli, tenant, slot)

    def leaf_counted():
        decide(client, tenant, slot, customer_id="fresh-de")
        return segment in stats_segments(client, tenant, slot)

    assert wait_until(leaf_counted), "the stored model was not picked up"
    # Decisions within the feature cache's lifetime (5 s) read the customer's features at most once.
    reads = features.reads
    for _ in range(3):
        decide(client, tenant, slot, customer_id="fresh-de")
    assert features.reads - reads <= 1
    cleared = cli("segments", "clear", "--tenant", tenant.name, "--platform", "android", "--slot", slot)
    assert cleared.exit_code == 0
    assert wait_until(lambda: segmenter(runtime).model(tenant.name, "android", slot) is None)
    reads = features.reads
    assert decide(client, tenant, slot, customer_id="other-de")["segment"] == "global"
    assert features.reads == reads


def test_a_feature_leaf_is_the_evaluation_context_of_its_decisions():
    from app.insights.segments import customer_context
    from app.measure.propensity_log import context_of

    assert context_of({"segment": "feature:n3", "city": "pune"}) == "feature:n3"
    assert customer_context("feature:n3", "pune") == "feature:n3"
