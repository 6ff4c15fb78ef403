"""The impression writer's cadence: one flush per interval however busy the service is.

The storage calls are replaced by a recorder (``_write``), so these tests check the thread's logic
only; tests/app/storage/test_event_blocks.py writes through the real stores to the real Cassandra.
"""
import threading
import time

from app.service.impression_writer import ImpressionWriter


class RecordingWriter(ImpressionWriter):
    """Records each write's items as given to submit; a write takes ``write_s``, like a round trip to
    Cassandra."""

    def __init__(self, write_s: float = 0.02, **options):
        super().__init__(counts=None, events=None, **options)
        self.write_s = write_s
        self.writes = []

    def _write(self, items):
        time.sleep(self.write_s)
        self.writes.append(list(items))


def test_a_steady_stream_of_impressions_is_written_once_per_interval():
    # 1.6 s of impressions, 0.4 s interval: about 4 flushes, plus the one of close(); a busy machine
    # delays the thread and makes fewer (at least the one of close). Draining until the queue is
    # empty would write once per 20 ms round trip instead: about 80 writes, far above 10.
    writer = RecordingWriter(flush_interval_s=0.4)
    submitted = []
    deadline = time.monotonic() + 1.6
    try:
        while time.monotonic() < deadline:
            submitted.append(len(submitted))
            assert writer.submit(submitted[-1])
            time.sleep(0.0005)
    finally:
        writer.close()
    assert 1 <= len(writer.writes) <= 10
    assert [event for write in writer.writes for event in write] == submitted  # each once, in order


def test_a_backlog_is_written_in_slices_of_batch_size():
    writer = RecordingWriter(flush_interval_s=0.3, batch_size=1000)
    try:
        for number in range(2500):
            writer.submit(number)
        assert writer.flush(timeout_s=10)
        assert [len(write) for write in writer.writes] == [1000, 1000, 500]
        assert [event for write in writer.writes for event in write] == list(range(2500))
    finally:
        writer.close()


def test_flush_writes_at_once_from_other_threads():
    writer = RecordingWriter(flush_interval_s=60)
    try:
        writer.submit("a")
        done = []
        thread = threading.Thread(target=lambda: done.append(writer.flush(timeout_s=5)))
        thread.start()
        thread.join(timeout=5)
        assert done == [True] and writer.writes == [["a"]]
    finally:
        writer.close()


def test_merge_sums_the_deltas_of_each_row_in_order_of_first_appearance():
    from app.storage.counts import CountDelta, merge

    arm = dict(tenant="t", platform="web", slot_id="home", creative_id="b1")
    deltas = [CountDelta(segment="global", impressions=1, **arm), CountDelta(segment="city:pune", impressions=1, **arm),
              CountDelta(segment="global", clicks=1, **arm), CountDelta(segment="global", impressions=2, **arm),
              CountDelta(segment="global", impressions=1, referrer="news", **arm)]
    assert merge(deltas) == [CountDelta(segment="global", impressions=3, clicks=1, **arm),
                             CountDelta(segment="city:pune", impressions=1, **arm),
                             CountDelta(segment="global", impressions=1, referrer="news", **arm)]
    assert merge([]) == []


def test_epoch_ms_truncates_like_the_driver():
    import calendar
    from datetime import datetime, timedelta, timezone

    from app.storage.event_blocks import epoch_ms

    def driver(moment):  # how cassandra-driver turns a datetime into a CQL timestamp
        return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000

    india = timezone(timedelta(hours=5, minutes=30))
    moments = [datetime(2026, 11, 3, 9, 59, 59, 999999, tzinfo=timezone.utc), datetime(2026, 11, 3, 9, 0, 0, 500),
               datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=timezone.utc),
               datetime(2026, 3, 29, 1, 30, 0, 1234, tzinfo=india), datetime(1970, 1, 1, tzinfo=timezone.utc)]
    assert [epoch_ms(m) for m in moments] == [driver(m) for m in moments]
