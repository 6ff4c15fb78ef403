"""Freshness promises across idle gaps, through ``slotbandit serve`` (two gunicorn workers): a paused
creative is never shown once its pause is 5 s old, and a rotated key stops working within 2 s, however
long the workers were idle before (an entry past its bound is read again before it is served)."""
import time

import pytest
import requests

from app.storage import TenantStore
from benchmarks.live_server import LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IDLE_S = 7.0  # longer than every refresh interval and freshness bound of the caches


@pytest.fixture
def server(settings):
    live = LiveServer(settings, workers=2).start()
    yield live
    live.stop()


def served(server, headers, count):
    with requests.Session() as http:
        answers = [http.get(f"{server.url}/slot/home/creative", params={"platform": "web"}, headers=headers,
                            timeout=10) for _ in range(count)]
    return answers


def test_a_creative_paused_after_an_idle_gap_is_never_served_again(server, tenant):
    tenant.add_slot("home", creatives=["a", "b"])
    warm = served(server, tenant.headers, 40)  # both workers have the slot cached
    assert {a.json()["creative"]["creative_id"] for a in warm} == {"a", "b"}
    time.sleep(IDLE_S)
    tenant.set_creative("home", "a", active=False)
    after = served(server, tenant.headers, 40)
    assert [a.status_code for a in after] == [200] * 40
    assert {a.json()["creative"]["creative_id"] for a in after} == {"b"}


def test_a_rotated_key_is_refused_by_every_worker_after_an_idle_gap(server, tenant, db):
    assert all(a.status_code in (200, 404) for a in served(server, tenant.headers, 6))  # keys cached
    time.sleep(IDLE_S)
    TenantStore(db).rotate_key(tenant.name)
    time.sleep(1.0)
    assert [a.status_code for a in served(server, tenant.headers, 8)] == [401] * 8
