"""The dashboard end to end in headless Chromium (Playwright driving /usr/bin/chromium) against the app
served on a local port, with the real Cassandra behind it.

1. Deterministic data (counters and event rows written directly, fixed viewport, no animations): the
   screenshot is compared with tests/app/api/data/dashboard.png, and the page's text is checked.
   SLOTBANDIT_UPDATE_SCREENSHOTS=1 rewrites the reference instead of comparing.
2. Real data: a simulated run of demo-world visitors through the app, then the page must show the
   run's impressions and the very rows of GET /slot/<id>/stats.
3. Isolation: another tenant's key shows that tenant's slots only.
"""
import os
import threading
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pytest
import requests

from bandit.sim import demo_world
from tests.app.insights.insights_data import add_counts, simulate_visitors
from tests.app.api.test_dashboard_api import log_impressions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def js_percent(share: float) -> str:
    """``(100 * share).toFixed(2) + "%"`` as the page writes it: JavaScript rounds an exact tie such as
    3.125 up, where Python's format rounds it to even (3.12)."""
    return f"{Decimal(100 * share).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--font-render-hinting=none",
                  "--force-color-profile=srgb", "--hide-scrollbars"]
VIEWPORT = {"width": 1200, "height": 900}
REFERENCE = Path(__file__).parent / "data" / "dashboard.png"
# A pixel differs when any channel differs by more than 32 of 255: that ignores anti-aliasing and
# sub-pixel font smoothing at glyph edges, which vary between Chromium and FreeType builds, while any
# drawn element that moves or changes colour differs by far more. At most 1% of the 1200 x 900 pixels
# may differ: a missing card, row or bar, or a shifted layout changes several percent, while one
# changed number does not reach it, which is why the numbers themselves are checked in the DOM text.
CHANNEL_THRESHOLD = 32
MAX_DIFFERING_SHARE = 0.01


@pytest.fixture(scope="module")
def served(app):
    """The test app on a free local port (werkzeug, threaded), for the browser."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium (./scripts/test installs it when it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (extra 'test')")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def open_dashboard(browser, url, key, platform="web"):
    """A fresh tab: enter the key in the form and wait until the slot view has rendered."""
    page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
    page.goto(f"{url}/dashboard")
    page.fill("#api-key", key)
    page.fill("#platform", platform)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#posteriors table tbody tr, #slot-list li")
    page.wait_for_load_state("networkidle")
    return page


def rows_text(page, selector):
    return [" ".join(row.inner_text().split()) for row in page.query_selector_all(selector)]


def differing_share(actual_png: bytes, reference: Path) -> float:
    """Share of pixels where any RGB channel differs by more than CHANNEL_THRESHOLD."""
    import io

    from PIL import Image

    actual = np.asarray(Image.open(io.BytesIO(actual_png)).convert("RGB"), dtype=np.int16)
    expected = np.asarray(Image.open(reference).convert("RGB"), dtype=np.int16)
    if actual.shape != expected.shape:
        return 1.0
    return float((np.abs(actual - expected).max(axis=2) > CHANNEL_THRESHOLD).mean())


def test_dashboard_with_fixed_data_matches_the_reference_screenshot(browser, served, runtime, make_tenant):
    tenant = make_tenant("shot")
    tenant.add_slot("home-banner", creatives=["autumn-sale", "free-delivery", "new-arrivals"])
    tenant.add_slot("checkout-offer", creatives=["ten-percent"])
    for creative_id, impressions, clicks in (("autumn-sale", 420, 38), ("free-delivery", 260, 13),
                                             ("new-arrivals", 120, 3)):
        add_counts(tenant.db, tenant, "home-banner", "global", creative_id, impressions, clicks)
        add_counts(tenant.db, tenant, "home-banner", "city:pune", creative_id, impressions // 4, clicks // 4)
    for creative_id in ("autumn-sale", "free-delivery", "new-arrivals"):
        add_counts(tenant.db, tenant, "home-banner", "global", creative_id, 40, 1)
        add_counts(tenant.db, tenant, "home-banner", "holdout", creative_id, 40, 1)
    log_impressions(runtime, tenant, "home-banner", {"autumn-sale": 12, "free-delivery": 6, "new-arrivals": 2},
                    clicks={"autumn-sale": 1})

    page = open_dashboard(browser, served, tenant.key)
    assert rows_text(page, "#slot-list li") == ["checkout-offer", "home-banner"]
    page.click('#slot-list button[data-slot="home-banner"]')
    page.wait_for_selector('#slot-title:text-is("home-banner")')
    assert rows_text(page, "#traffic .share-row") == [
        "autumn-sale 60.0% 12 imp", "free-delivery 30.0% 6 imp", "new-arrivals 10.0% 2 imp"]
    assert "20 impressions, 1 clicks" in page.inner_text("#traffic")
    # Lift: bandit 800 impressions / 54 clicks against holdout 120 / 3.
    assert "+170.0%" in page.inner_text("#lift") and "holdout 2.50% in 120" in page.inner_text("#lift")
    # Saved traffic to date: pune (its own posterior) and the rest (global minus pune) judged separately.
    stats = requests.get(f"{served}/slot/home-banner/stats?platform=web", headers=tenant.headers).json()["savings"]
    assert (f"{stats['saved_share'] * 100:.0f}% of a uniform split's traffic" in page.inner_text("#savings")
            and f"got {stats['non_performer_impressions']} of 920 impressions" in page.inner_text("#savings"))
    table = rows_text(page, "#posteriors tbody tr")
    assert [row.split()[:3] for row in table] == [
        ["autumn-sale", "460", "39"], ["free-delivery", "300", "14"], ["new-arrivals", "160", "4"]]
    # No key in the address, no cookie: it stays in the tab's sessionStorage.
    assert tenant.key not in page.url and page.context.cookies() == []
    assert page.evaluate("sessionStorage.getItem('slotbandit.key')") == tenant.key

    shot = page.screenshot(full_page=False, animations="disabled")
    page.evaluate("document.querySelector('#lift').hidden = true")  # a real change: one card less
    changed = page.screenshot(full_page=False, animations="disabled")
    page.close()
    if os.environ.get("SLOTBANDIT_UPDATE_SCREENSHOTS") == "1" or not REFERENCE.exists():
        REFERENCE.write_bytes(shot)
        pytest.skip(f"reference screenshot written to {REFERENCE}; run again to compare")
    share = differing_share(shot, REFERENCE)
    if share > MAX_DIFFERING_SHARE:
        (REFERENCE.parent / "dashboard.actual.png").write_bytes(shot)
    assert share <= MAX_DIFFERING_SHARE, f"{share:.2%} of pixels differ (see tests/app/api/data/dashboard.actual.png)"
    assert differing_share(changed, REFERENCE) > MAX_DIFFERING_SHARE  # the tolerance does not hide a missing card


def test_dashboard_renders_a_simulated_run(browser, served, app, runtime, make_tenant):
    tenant = make_tenant("simdash")
    tenant.add_slot("home-banner", creatives=demo_world().creative_ids)
    run = simulate_visitors(app.test_client(), runtime, tenant, "home-banner", visitors=200, seed=11)

    page = open_dashboard(browser, served, tenant.key)
    page.wait_for_selector('#slot-title:text-is("home-banner")')
    assert f"{run.visitors} impressions, {run.clicks} clicks" in page.inner_text("#traffic")
    shown = {row.split()[0]: int(row.split()[2]) for row in rows_text(page, "#traffic .share-row")}
    assert shown == {creative_id: counts[0] for creative_id, counts in run.by_creative.items()}
    assert "no holdout data" in page.inner_text("#lift")

    stats = app.test_client().get("/slot/home-banner/stats?platform=web", headers=tenant.headers).get_json()
    global_rows = next(s for s in stats["segments"] if s["segment"] == "global")["creatives"]
    table = rows_text(page, "#posteriors tbody tr")
    assert [row.split()[:4] for row in table] == [
        [c["creative_id"], str(c["impressions"]), str(c["clicks"]), js_percent(c["mean"])] for c in global_rows]
    city = max(run.by_city, key=lambda c: run.by_city[c][0])
    page.select_option("#segment", f"city:{city}")
    page.wait_for_selector(f'#posteriors .meta:text-is("decided by city:{city}")')
    city_rows = rows_text(page, "#posteriors tbody tr")
    assert sum(int(row.split()[1]) for row in city_rows) == run.by_city[city][0]
    page.close()


def test_another_tenants_key_shows_only_its_own_slots(browser, served, make_tenant):
    first, second = make_tenant("iso"), make_tenant("iso")
    first.add_slot("first-only", creatives=["a"])
    second.add_slot("second-only", creatives=["b"])
    page = open_dashboard(browser, served, second.key)
    assert rows_text(page, "#slot-list li") == ["second-only"]
    assert "first-only" not in page.content()
    page.click("#forget")
    assert page.evaluate("sessionStorage.getItem('slotbandit.key')") is None
    page.fill("#api-key", "sb_not-a-key")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-error:has-text('not valid')")
    assert "not valid" in page.inner_text("#key-error")
    page.close()


def test_the_platform_switch_lists_every_platform_of_the_tenant(browser, served, make_tenant):
    tenant = make_tenant("plat")
    tenant.add_slot("home-banner", creatives=["a"])
    tenant.add_slot("shop", creatives=["gems", "coins"], platform="android")
    page = open_dashboard(browser, served, tenant.key)
    assert page.inner_text("#status") == "platform web \u00b7 1 slot"
    options = page.eval_on_selector_all("#platform-select option", "nodes => nodes.map(n => n.value)")
    assert options == ["android", "web"]
    page.select_option("#platform-select", "android")
    page.wait_for_selector('#slot-title:text-is("shop")')
    assert rows_text(page, "#slot-list li") == ["shop"]
    assert page.inner_text("#status") == "platform android \u00b7 1 slot"
    assert page.evaluate("sessionStorage.getItem('slotbandit.platform')") == "android"
    page.close()


def test_a_half_life_slot_shows_effective_counts_beside_raw_ones(browser, served, app, runtime, make_tenant):
    tenant = make_tenant("hldash")
    tenant.add_slot("home-banner", creatives=demo_world().creative_ids)
    tenant.db.execute("UPDATE slots SET half_life_s = 60 WHERE tenant = ? AND platform = 'web' "
                      "AND slot_id = 'home-banner'", (tenant.name,))
    simulate_visitors(app.test_client(), runtime, tenant, "home-banner", visitors=120, seed=5)

    opened = time.monotonic()
    page = open_dashboard(browser, served, tenant.key)
    page.wait_for_selector('#slot-title:text-is("home-banner")')
    assert "half-life 60 s" in page.inner_text("#half-life")
    stats = app.test_client().get("/slot/home-banner/stats?platform=web", headers=tenant.headers).get_json()
    # No event arrives after the run, so effective counts only decay: the page's (computed first) are at
    # least the stats' and at most the stats' times 2^(dt / 60) for the dt between the two reads; the page
    # rounds to one decimal (0.05 either way).
    growth = 2 ** ((time.monotonic() - opened) / 60)
    global_rows = next(s for s in stats["segments"] if s["segment"] == "global")["creatives"]
    table = rows_text(page, "#posteriors tbody tr")
    for row, c in zip(table, global_rows):
        cells = row.split()
        assert cells[:3] == [c["creative_id"], str(c["impressions"]), str(c["clicks"])]
        for shown, later in ((float(cells[3]), c["effective_impressions"]), (float(cells[4]), c["effective_clicks"])):
            assert later - 0.05 <= shown <= later * growth + 0.05, (shown, later, growth)
        assert float(cells[3]) <= c["impressions"]
    page.close()
