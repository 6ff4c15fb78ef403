"""The impression writer when Cassandra fails under it, against the real Cassandra: counter writes
of unknown outcome (landed once, never, twice) are settled by their marks to exactly once; writes
that provably failed are held and written when storage answers again; a full queue drops and counts."""
import time

import pytest
from cassandra import OperationTimedOut
from cassandra.cluster import NoHostAvailable
from cassandra.query import BatchType
from prometheus_client import REGISTRY

from app.service import impression_writer
from tests.app.service.test_clicks import decision

pytestmark = pytest.mark.integration


class Failed:
    """A driver future whose result is an error."""

    def __init__(self, error):
        self.error = error

    def result(self):
        raise self.error


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def global_impressions(runtime, tenant):
    return sum(c.impressions for c in runtime.counts.read_slot(tenant.name, "web", "home").get("global", {}).values())


def inject(runtime, monkeypatch, fault):
    """Counter batches of the writer go through ``fault(real_run_async, statement)``."""
    real = runtime.db.run_async

    def run_async(statement):
        if getattr(statement, "batch_type", None) == BatchType.COUNTER:
            return fault(real, statement)
        return real(statement)

    monkeypatch.setattr(runtime.db, "run_async", run_async)


@pytest.mark.parametrize("landings, outcome", [(0, "reapplied"), (1, "landed"), (2, "taken_back")])
def test_counter_writes_of_unknown_outcome_are_settled_to_exactly_once(client, tenant, runtime, monkeypatch,
                                                                      landings, outcome):
    tenant.add_slot("home", creatives=["a", "b"])
    monkeypatch.setattr(impression_writer, "SETTLE_S", 60.0)  # not settled while the fault lasts
    before = sample("slotbandit_counter_writes_settled_total", kind="impressions", outcome=outcome)

    def timed_out(real, statement):
        for _ in range(landings):  # what Cassandra did before the answer was lost
            real(statement).result()
        return Failed(OperationTimedOut("injected"))

    inject(runtime, monkeypatch, timed_out)
    for _ in range(30):
        decision(client, tenant)
    assert runtime.writer.flush(10)
    assert global_impressions(runtime, tenant) == 30 * landings
    monkeypatch.undo()
    monkeypatch.setattr(impression_writer, "SETTLE_S", 0.2)
    assert runtime.writer.unsettled > 0
    deadline = time.monotonic() + 10
    while runtime.writer.unsettled and time.monotonic() < deadline:  # the writer settles them in its next rounds
        time.sleep(0.1)
    assert runtime.writer.unsettled == 0
    assert sample("slotbandit_counter_writes_settled_total", kind="impressions", outcome=outcome) > before
    assert global_impressions(runtime, tenant) == 30


def test_writes_that_provably_failed_are_held_until_storage_answers(client, tenant, runtime, monkeypatch):
    tenant.add_slot("home", creatives=["a"])
    monkeypatch.setattr(impression_writer, "RETRY_BACKOFF_S", (0.01, 0.01, 0.05))
    holding_before = sample("slotbandit_writer_holding_total")
    refusals = {"left": 8}

    def down(real, statement):
        if refusals["left"] > 0:
            refusals["left"] -= 1
            raise NoHostAvailable("injected", {})
        return real(statement)

    inject(runtime, monkeypatch, down)
    for _ in range(20):
        decision(client, tenant)
    assert runtime.writer.flush(20)
    assert refusals["left"] == 0 and sample("slotbandit_writer_holding_total") > holding_before
    assert global_impressions(runtime, tenant) == 20


def test_a_full_queue_drops_and_counts_what_it_cannot_hold():
    writer = impression_writer.ImpressionWriter(counts=None, events=None, queue_size=2, flush_interval_s=60)
    before = sample("slotbandit_impressions_dropped_total", reason="queue_full")
    writer._write = lambda items: None  # nothing is written in this test
    try:
        assert [writer.submit(n) for n in range(5)] == [True, True, False, False, False]
        assert sample("slotbandit_impressions_dropped_total", reason="queue_full") == before + 3
    finally:
        writer.close()
