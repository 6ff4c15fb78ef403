"""The frequency-cap protocol of app.service.frequency, step by step, on an in-memory store whose
writes and reads can be interleaved at will (the real Cassandra runs in test_serving_controls.py and,
with two gunicorn workers, in tests/app/api/test_live_server.py)."""
from datetime import datetime, timezone

from app.service.frequency import CapHints, FrequencyCounts
from app.storage.catalog import SlotConfig

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


class MemoryMarks:
    """frequency_marks in a dict; ``before_read`` runs between a decision's write and its read."""

    def __init__(self):
        self.rows = {}  # (customer, start) -> {creative: [marks]}
        self.before_read = None
        self.writes = self.reads = 0

    def mark(self, tenant, platform, slot_id, customer_id, start, creative_id, mark, ttl_s):
        self.writes += 1
        self.rows.setdefault((customer_id, start), {}).setdefault(creative_id, []).append(mark)

    def marks(self, tenant, platform, slot_id, customer_id, start):
        self.reads += 1
        if self.before_read:
            hook, self.before_read = self.before_read, None
            hook()
        return {cid: list(ms) for cid, ms in self.rows.get((customer_id, start), {}).items()}

    def withdraw(self, tenant, platform, slot_id, customer_id, start, creative_id, mark):
        self.rows[(customer_id, start)][creative_id].remove(mark)

    def shown(self, customer_id="u1"):
        return {cid: len(ms) for (customer, _), by in self.rows.items() if customer == customer_id
                for cid, ms in by.items() if ms}


def slot(cap=2):
    return SlotConfig("t", "web", "home", frequency_cap=cap, frequency_window_s=3600)


def begin(store, hints=None, cap=2, customer="u1"):
    return FrequencyCounts.begin(store, hints or CapHints(), slot(cap), customer, NOW)


def test_no_cap_or_no_customer_touches_nothing():
    store = MemoryMarks()
    assert FrequencyCounts.begin(store, CapHints(), SlotConfig("t", "web", "home"), "u1", NOW) is None
    assert FrequencyCounts.begin(store, CapHints(), slot(), None, NOW) is None
    assert store.reads == store.writes == 0


def test_a_new_customer_costs_one_write_and_one_read():
    store = MemoryMarks()
    counts = begin(store)
    assert counts.capped() == frozenset()
    assert counts.claim("a", frozenset({"a", "b"}))
    assert (store.writes, store.reads) == (1, 1) and store.shown() == {"a": 1}


def test_another_worker_at_the_cap_is_found_and_the_choice_made_again_among_fewer():
    store, hints = MemoryMarks(), CapHints()
    other = begin(store)  # another process (its own hints) showed 'a' twice
    assert other.claim("a", frozenset({"a", "b"})) and begin(store).claim("a", frozenset({"a", "b"}))
    counts = begin(store, hints)  # this process has not seen u1: it assumes nothing is capped
    assert not counts.claim("a", frozenset({"a", "b"}))
    assert counts.capped() == {"a"} and store.shown() == {"a": 2}  # its mark was withdrawn
    assert counts.claim("b", frozenset({"b"}))
    assert store.shown() == {"a": 2, "b": 1}
    # The next decision for u1 in this process starts from what it read: 'a' capped, no wasted round trip.
    again = begin(store, hints)
    assert again.capped() == {"a"}
    writes = store.writes
    assert again.claim("b", frozenset({"b"})) and store.writes == writes + 1


def test_a_candidate_capped_meanwhile_is_decided_again_even_if_the_chosen_one_is_free():
    """The propensity is over the candidates: if 'b' turned out capped, choosing 'a' among {a, b} was
    made with the wrong probabilities, so it is made again among {a}."""
    store = MemoryMarks()
    for _ in range(2):
        begin(store).claim("b", frozenset({"a", "b"}))
    counts = begin(store)  # fresh hints: assumes b free
    assert not counts.claim("a", frozenset({"a", "b"}))
    assert counts.capped() == {"b"} and store.shown() == {"b": 2}
    assert counts.claim("a", frozenset({"a"}))


def test_two_decisions_racing_for_the_last_impression_never_both_show_it():
    store = MemoryMarks()
    assert begin(store).claim("a", frozenset({"a"}))  # cap 2: one left
    first, second = begin(store), begin(store)
    results = {}
    # second decides entirely between first's write and first's read: it sees first's mark and withdraws.
    store.before_read = lambda: results.setdefault("second", second.claim("a", frozenset({"a"})))
    results["first"] = first.claim("a", frozenset({"a"}))
    assert results == {"first": True, "second": False} and store.shown() == {"a": 2}


def test_marks_written_by_others_before_the_read_make_a_decision_careful():
    """A concurrent decision's mark counts even if that decision will withdraw it: this one withdraws too
    (one impression fewer for a moment, never one more)."""
    store = MemoryMarks()
    assert begin(store).claim("a", frozenset({"a"}))  # cap 2: one left
    counts = begin(store)
    store.before_read = lambda: store.mark("t", "web", "home", "u1", counts.start, "a", "other-mark", 60)
    assert not counts.claim("a", frozenset({"a"}))
    assert store.shown() == {"a": 2}  # the first impression and the other decision's mark, not this one's


def test_a_decision_that_read_before_the_other_wrote_lets_only_the_later_reader_decide():
    store = MemoryMarks()
    assert begin(store).claim("a", frozenset({"a"}))
    first, second = begin(store), begin(store)
    assert first.claim("a", frozenset({"a"}))  # wrote and read alone: 2 marks, shown
    assert not second.claim("a", frozenset({"a"}))  # wrote after first's read: sees 3, withdraws
    assert store.shown() == {"a": 2}


def test_all_capped_by_the_hints_is_checked_before_frequency_capped():
    store, hints = MemoryMarks(), CapHints()
    for _ in range(2):
        begin(store, hints, cap=2).claim("a", frozenset({"a"}))
    assert begin(store, hints).capped() == {"a"}
    store.rows.clear()  # the window's rows are gone (as if they expired): the hints are now wrong
    counts = begin(store, hints)
    assert counts.capped() == {"a"} and not counts.read
    counts.refresh()
    assert counts.capped() == frozenset() and counts.read


def test_hints_keep_customers_at_a_cap_and_forget_the_least_recent_first():
    hints = CapHints(size=2)
    hints.put(("u1",), frozenset({"a"}))
    hints.put(("u2",), frozenset({"a"}))
    assert hints.get(("u1",)) == {"a"}  # u1 is now the most recent
    hints.put(("u3",), frozenset({"b"}))
    assert hints.get(("u2",)) == frozenset() and hints.get(("u1",)) == {"a"} and hints.get(("u3",)) == {"b"}
    hints.put(("u1",), frozenset())  # nothing capped any more (a new read): nothing kept
    assert hints.get(("u1",)) == frozenset() and len(hints._capped) == 1
