"""POST /click when a write fails, times out or its owner dies: every path of the click, against the
real Cassandra, with the failing statement injected where a real outage would make it fail.

A click is acknowledged (202 accepted, 200 duplicate) only once it is counted; a 503 means "send it
again", and a click sent again until acknowledged is counted exactly once.
"""
import pytest
from cassandra import OperationTimedOut, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.query import BatchType
from prometheus_client import REGISTRY

from app.service import clicks
from tests.app.service.test_clicks import click, decision, global_clicks

pytestmark = pytest.mark.integration


@pytest.fixture
def short_lease(monkeypatch):
    """Leases of 0.3 s, so that a retry may take over a failed owner's claim within the test."""
    monkeypatch.setattr(clicks, "LEASE_S", 0.3)
    monkeypatch.setattr(clicks, "OWNER_AT_WORK_S", 0.1)


def claimed(runtime, decision_id):
    """The token of a decision whose click an owner claimed and then died (nothing else written)."""
    token = runtime.signer.verify(decision_id)
    assert runtime.events.claim_click(token.tenant, token.nonce, 3600, clicks._now())
    return token


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_a_claim_left_by_a_dead_owner_is_in_progress_until_its_lease_runs_out(client, tenant, runtime, monkeypatch):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    claimed(runtime, chosen["decision_id"])
    monkeypatch.setattr(clicks, "OWNER_AT_WORK_S", 0.0)  # do not wait for the (dead) owner
    answer = click(client, tenant, chosen["decision_id"])
    assert answer.status_code == 503 and answer.get_json()["error"]["code"] == "click_in_progress"
    assert 1 <= int(answer.headers["Retry-After"]) <= clicks.LEASE_S + 1
    assert global_clicks(runtime, tenant) == {}


def test_a_retry_takes_over_a_dead_owners_claim_and_counts_it_once(client, tenant, runtime, short_lease):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    claimed(runtime, chosen["decision_id"])
    before = sample("slotbandit_clicks_taken_over_total")
    answer = _until_acknowledged(client, tenant, chosen["decision_id"])
    assert answer.status_code == 202
    assert sample("slotbandit_clicks_taken_over_total") == before + 1
    assert global_clicks(runtime, tenant) == {"a": 1}
    assert [e["kind"] for e in tenant.events("home")].count("click") == 1
    assert click(client, tenant, chosen["decision_id"]).get_json() == {"status": "duplicate"}


@pytest.mark.parametrize("landed", [1, 2])
def test_counters_that_landed_before_the_owner_died_are_not_counted_again(client, tenant, runtime, short_lease,
                                                                         landed):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    token = claimed(runtime, chosen["decision_id"])
    batch = clicks._click_batch(token)
    for _ in range(landed):  # the owner's batch landed (twice: the driver sent it again elsewhere)
        runtime.db.run(runtime.counts.statement(batch))
    assert _until_acknowledged(client, tenant, chosen["decision_id"]).status_code == 202
    assert global_clicks(runtime, tenant) == {"a": 1}


def test_a_counter_write_that_provably_failed_releases_the_lease_for_an_immediate_retry(
        client, tenant, runtime, monkeypatch):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    _fail_counter_writes(runtime, monkeypatch, Unavailable("injected", consistency=1, required_replicas=1,
                                                           alive_replicas=0), apply_first=False)
    refused = click(client, tenant, chosen["decision_id"])
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    token = runtime.signer.verify(chosen["decision_id"])
    claim = runtime.events.claim(tenant.name, token.nonce)
    assert claim.state == "pending" and claim.claimed_at.year == 1970  # lease released at once
    monkeypatch.undo()
    assert click(client, tenant, chosen["decision_id"]).status_code == 202  # no wait for a lease
    assert global_clicks(runtime, tenant) == {"a": 1}


def test_a_counter_write_of_unknown_outcome_keeps_the_lease_and_is_settled_by_the_retry(
        client, tenant, runtime, monkeypatch):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    ambiguous_before = sample("slotbandit_clicks_ambiguous_total")
    _fail_counter_writes(runtime, monkeypatch, OperationTimedOut("injected"), apply_first=True)
    refused = click(client, tenant, chosen["decision_id"])
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "storage_timeout"
    assert sample("slotbandit_clicks_ambiguous_total") == ambiguous_before + 1
    monkeypatch.undo()
    assert global_clicks(runtime, tenant) == {"a": 1}  # it did land
    monkeypatch.setattr(clicks, "OWNER_AT_WORK_S", 0.0)
    in_progress = click(client, tenant, chosen["decision_id"])
    assert in_progress.get_json()["error"]["code"] == "click_in_progress"  # the lease is kept
    monkeypatch.setattr(clicks, "LEASE_S", 0.3)
    assert _until_acknowledged(client, tenant, chosen["decision_id"]).status_code == 202
    assert global_clicks(runtime, tenant) == {"a": 1}  # settled by its mark: not counted again


def test_an_event_log_write_that_fails_answers_503_and_the_retry_counts_once(client, tenant, runtime, monkeypatch):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    real_insert = runtime.events.insert

    def down(event):
        raise NoHostAvailable("injected", {})

    monkeypatch.setattr(runtime.events, "insert", down)
    assert click(client, tenant, chosen["decision_id"]).status_code == 503
    monkeypatch.setattr(runtime.events, "insert", real_insert)
    assert click(client, tenant, chosen["decision_id"]).status_code == 202
    assert global_clicks(runtime, tenant) == {"a": 1}


def _fail_counter_writes(runtime, monkeypatch, error, apply_first: bool):
    """Counter batches raise ``error`` (after landing when ``apply_first``); other statements run."""
    real_run = runtime.db.run

    def run(statement, timeout=None):
        if getattr(statement, "batch_type", None) == BatchType.COUNTER:
            if apply_first:
                real_run(statement, timeout=timeout)
            raise error
        return real_run(statement, timeout=timeout)

    monkeypatch.setattr(runtime.db, "run", run)


def _until_acknowledged(client, tenant, decision_id, attempts: int = 40):
    import time

    for _ in range(attempts):
        answer = click(client, tenant, decision_id)
        if answer.status_code in (200, 202):
            return answer
        assert answer.status_code == 503, answer.get_json()
        time.sleep(0.1)
    raise AssertionError(f"click not acknowledged after {attempts} attempts: {answer.get_json()}")


def test_an_attempt_past_its_time_writes_no_counters_and_releases_its_lease(client, tenant, runtime, monkeypatch):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    monkeypatch.setattr(clicks, "ATTEMPT_S", -1.0)  # the claim and the event took longer than an attempt may
    late = click(client, tenant, chosen["decision_id"])
    assert late.status_code == 503 and late.get_json()["error"]["code"] == "storage_timeout"
    assert global_clicks(runtime, tenant) == {}
    monkeypatch.undo()
    assert click(client, tenant, chosen["decision_id"]).status_code == 202  # the lease was released
    assert global_clicks(runtime, tenant) == {"a": 1}


class RefusingPublisher:
    """A Kafka publisher that cannot make a click durable (broker down and spool full)."""

    def publish_click(self, event, segments):
        return False


def test_a_click_the_stream_cannot_take_answers_503_and_its_retry_counts_once(client, tenant, runtime, monkeypatch):
    tenant.add_slot("home", creatives=["a"])
    chosen = decision(client, tenant)
    monkeypatch.setattr(runtime, "publisher", RefusingPublisher())
    refused = click(client, tenant, chosen["decision_id"])
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "stream_unavailable"
    monkeypatch.undo()
    assert click(client, tenant, chosen["decision_id"]).status_code == 202
    assert global_clicks(runtime, tenant) == {"a": 1}
