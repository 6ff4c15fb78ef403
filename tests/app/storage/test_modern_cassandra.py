"""The service on current Cassandra releases (4.1, 5.0) in Docker, with the protocol version negotiated.

The embedded development server is Cassandra 2.1 on protocol v3; production clusters are newer. Each
image runs in a container (testcontainers); without a reachable Docker engine the tests are skipped
at once, with the reason.
"""
import secrets
from datetime import datetime, timezone

import pytest

from app.api.factory import create_app
from app.decision_ids import DecisionSigner
from app.service.runtime import Runtime
from app.storage.schema import apply_schema
from app.settings import Settings
from app.storage.event_log import EventStore, hour_bucket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGES = ["cassandra:4.1", "cassandra:5.0"]
SECRET = "modern-cassandra-secret-0123456789"


@pytest.fixture(scope="module")
def docker_engine():
    """Skip unless a Docker engine answers a ping within a few seconds (a docker CLI alone is not enough)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as error:  # no SDK, no socket, no permission, engine down: all mean "cannot run here"
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        pytest.skip(f"no Docker engine reachable ({type(error).__name__}: {reason}); "
                    "the Cassandra 4.1/5.0 containers need one")
    client.close()


@pytest.fixture(scope="module", params=IMAGES)
def modern_settings(request, docker_engine):
    """Settings for a fresh container of the image, as an operator would set them in the environment."""
    from testcontainers.community.cassandra import CassandraContainer

    container = CassandraContainer(request.param)
    container.start()
    try:
        host, port = container.get_contact_points()[0]
        yield Settings.from_env({
            "CASSANDRA_HOSTS": host,
            "CASSANDRA_PORT": str(port),
            "CASSANDRA_KEYSPACE": f"sbmodern_{secrets.token_hex(4)}",
            "SLOTBANDIT_SECRET": SECRET,
            "SLOTBANDIT_CONFIG_REFRESH_S": "0.5",
            "SLOTBANDIT_POSTERIOR_REFRESH_S": "0.2",
        })
    finally:
        container.stop()


def test_decide_click_and_stats_on_a_modern_cassandra(modern_settings):
    settings = modern_settings
    assert settings.cassandra_hosts and settings.effective_protocol_version is None  # negotiated
    apply_schema(settings, log=lambda message: None)
    apply_schema(settings, log=lambda message: None)  # re-runnable on this release too

    runtime = Runtime.build(settings)
    try:
        app = create_app(settings, runtime=runtime)
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        assert runtime.db.session.cluster.protocol_version >= 4  # 4.1 and 5.0 negotiate v4 or v5

        name = f"modern-{secrets.token_hex(3)}"
        key = runtime.tenants.create(name)
        db = runtime.db
        db.execute("INSERT INTO slots (tenant, platform, slot_id, attribution_window_s) VALUES (?, ?, ?, ?)",
                   (name, "web", "home", 3600))
        for creative_id in ("a", "b", "c"):
            db.execute(
                "INSERT INTO creatives (tenant, platform, slot_id, creative_id, image_url, payload, active, cities) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, "web", "home", creative_id, f"https://img.example/{creative_id}.png",
                 '{"title": "t"}', True, set()),
            )
        headers = {"X-Api-Key": key}

        answer = client.get("/slot/home/creative?platform=web&city=Pune&referrer=news", headers=headers)
        assert answer.status_code == 200, answer.get_json()
        decision = answer.get_json()
        assert decision["creative"]["creative_id"] in {"a", "b", "c"}
        assert decision["creative"]["payload"] == {"title": "t"}
        assert 0 < decision["propensity"] <= 1

        first = client.post("/click", json={"decision_id": decision["decision_id"]}, headers=headers)
        again = client.post("/click", json={"decision_id": decision["decision_id"]}, headers=headers)
        assert (first.status_code, first.get_json()) == (202, {"status": "accepted"})
        assert (again.status_code, again.get_json()) == (200, {"status": "duplicate"})

        assert runtime.writer.flush(timeout_s=10)
        stats = client.get("/slot/home/stats?platform=web", headers=headers).get_json()
        rows = {s["segment"]: {r["creative_id"]: r for r in s["creatives"]} for s in stats["segments"]}
        shown = decision["creative"]["creative_id"]
        assert set(rows) == {"global", "city:pune"}
        for segment in ("global", "city:pune"):
            assert (rows[segment][shown]["impressions"], rows[segment][shown]["clicks"]) == (1, 1)
            assert sum(r["impressions"] for r in rows[segment].values()) == 1
        referrers = client.get("/slot/home/stats?platform=web&by=referrer", headers=headers).get_json()
        assert [(r["referrer"], r["impressions"], r["clicks"]) for r in referrers["referrers"]] == [("news", 1, 1)]

        # A key unknown to this cluster, and another tenant's view of the slot.
        assert client.get("/slot/home/creative?platform=web", headers={"X-Api-Key": "sb_unknown"}).status_code == 401
        other = runtime.tenants.create(f"other-{secrets.token_hex(3)}")
        assert client.get("/slot/home/creative?platform=web", headers={"X-Api-Key": other}).status_code == 404
        events = [row["kind"] for row in EventStore(db).read_partitions(
            [(name, "web", "home", hour) for hour in _hours(decision)],
            datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))]
        assert sorted(events) == ["click", "impression"], events
    finally:
        runtime.close()


def _hours(decision: dict) -> list:
    """The event-log hour buckets from the decision's issue time (its signed id) to now."""
    token = DecisionSigner(SECRET.encode()).verify(decision["decision_id"])
    issued = datetime.fromtimestamp(token.issued_ms / 1000, timezone.utc)
    return sorted({hour_bucket(issued), hour_bucket(datetime.now(timezone.utc))})
