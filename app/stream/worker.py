"""``slotbandit worker``: a consumer-group member that applies clickstream events to Cassandra.

Each round polls up to 500 messages, sorts them into applicable events and dead letters, applies
the events (app/stream/applier.py: exactly-once by event id, fenced per slot), sends the dead
letters and waits until the broker has them, and only then commits the consumed offsets. A worker
killed anywhere in that round replays the round after a restart (or another member does after a
rebalance); replayed events are recognised by their ids and counted as duplicates, not again.

Malformed messages and messages of an unknown tenant go to ``<prefix>dead-letter`` with the
reason in a header; they are counted and never stop the worker. Several workers with the same
``--group`` share the partitions of both topics.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

from prometheus_client import Counter, Gauge

from app.storage.db import Database
from app.settings import Settings
from app.storage import EventStore, TenantStore
from app.storage.stream_totals import StreamTotalsStore
from app.stream.applier import Applier, ApplyResult
from app.stream.kafka_io import ensure_topics, make_consumer, make_producer
from app.stream.messages import MalformedMessage, StreamEvent, Topics

log = logging.getLogger(__name__)

APPLIED = Counter("slotbandit_worker_events_applied_total", "Events applied to Cassandra", ["topic"])
DUPLICATES = Counter("slotbandit_worker_events_duplicate_total", "Events skipped as already applied", ["topic"])
DEAD_LETTERS = Counter("slotbandit_worker_dead_letters_total", "Messages sent to the dead-letter topic", ["reason"])
LAG = Gauge("slotbandit_worker_consumer_lag", "Messages not yet consumed (high watermark - position)",
            ["topic", "partition"])
ROUNDS_FAILED = Counter("slotbandit_worker_rounds_failed_total", "Poll rounds not committed (retried)")

TENANT_CACHE_S = 10.0
POLL_TIMEOUT_MS = 500
TOPIC_CHECK_S = 5.0


class TenantCheck:
    """Known tenants, cached for a few seconds (an unknown name is asked again each time)."""

    def __init__(self, tenants: TenantStore):
        self._tenants = tenants
        self._known: Dict[str, float] = {}

    def __call__(self, name: str) -> bool:
        now = time.monotonic()
        if now - self._known.get(name, -TENANT_CACHE_S) < TENANT_CACHE_S:
            return True
        if self._tenants.exists(name):
            self._known[name] = now
            return True
        return False


class Worker:
    """One member of the consumer group ``group``."""

    def __init__(self, settings: Settings, db: Database, group: str = "slotbandit-workers",
                 progress: Optional[Callable[[str], None]] = None):
        if not settings.kafka_bootstrap_servers:
            raise ValueError("KAFKA_BOOTSTRAP_SERVERS must be set for the worker")
        self.bootstrap = settings.kafka_bootstrap_servers
        self.topics = Topics(settings.kafka_topic_prefix)
        self.group = group
        self.applier = Applier(StreamTotalsStore(db), EventStore(db))
        self.known_tenant = TenantCheck(TenantStore(db))
        self.progress = progress or (lambda message: None)
        self.stop_requested = threading.Event()
        self.totals = ApplyResult()
        self.dead_letters = 0
        self._committed: set = set()  # partitions this worker has committed an offset for
        self.assignment: frozenset = frozenset()  # the partitions this member owns now

    def run(self) -> None:
        """Consume until ``stop_requested`` is set; commits only what was applied."""
        ensure_topics(self.bootstrap, self.topics.all)
        consumer = make_consumer(self.bootstrap, self.group)
        producer = make_producer(self.bootstrap, max_block_ms=10_000)
        consumer.subscribe([self.topics.impressions, self.topics.clicks])
        last_topic_check = last_report = time.monotonic()
        try:
            while not self.stop_requested.is_set():
                try:
                    records = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                except Exception as error:  # broker gone or restarted: keep going, never stop
                    log.warning("poll failed: %s", error)
                    time.sleep(1.0)
                    records = {}
                self.assignment = frozenset(consumer.assignment())
                if records:
                    self._round(consumer, producer, records)
                now = time.monotonic()
                if now - last_topic_check > TOPIC_CHECK_S:
                    last_topic_check = now
                    self._housekeeping(consumer)
                if now - last_report > 10:
                    last_report = now
                    self.progress(f"applied {self.totals.applied}, duplicates {self.totals.duplicates}, "
                                  f"dead letters {self.dead_letters}")
        finally:
            consumer.close(autocommit=False)
            producer.close(timeout=5)

    def _round(self, consumer, producer, records) -> None:
        """Apply one poll's records, then commit; a failure leaves the offsets for a replay."""
        try:
            self.process(records, producer)
        except Exception as error:  # Cassandra down, broker gone: keep the offsets, retry the round
            ROUNDS_FAILED.inc()
            log.warning("round failed, replaying it: %s", error)
            self._rewind(consumer, records)
            time.sleep(1.0)
            return
        self._commit(consumer, [tp for tp, batch in records.items() if batch])

    def _commit(self, consumer, partitions) -> None:
        """Commit the consumed positions, unless the broker lost the offsets committed before.

        A restarted in-memory broker starts its topics again at offset 0 and forgets the group's
        offsets; a position kept from before could then skip new messages. So when an offset this
        worker committed is gone, every assigned partition is read again from the beginning
        (replays are skipped by event id) instead of committing.
        """
        try:
            lost = [tp for tp in partitions if tp in self._committed and consumer.committed(tp) is None]
            if lost:
                log.warning("committed offsets are gone (broker restarted?): reading again from the beginning")
                consumer.seek_to_beginning(*consumer.assignment())
                self._committed.clear()
                return
            consumer.commit()
            self._committed.update(partitions)
        except Exception as error:  # rebalanced meanwhile: the new owner replays, duplicates are skipped
            log.info("offset commit failed (%s); the partition's owner replays the round", error)

    def process(self, records, producer) -> ApplyResult:
        """Apply ``{TopicPartition: [ConsumerRecord]}``; dead letters are on the broker when it returns."""
        by_topic: Dict[str, List[StreamEvent]] = {}
        letters: List[Tuple[object, str]] = []
        for tp, batch in records.items():
            for record in batch:
                try:
                    items = StreamEvent.many_from_json(record.value)
                except MalformedMessage as error:
                    letters.append((record, f"malformed: {error}"))
                    continue
                if not all(self.known_tenant(name) for name in {item.event.tenant for item in items}):
                    letters.append((record, "unknown tenant"))
                    continue
                by_topic.setdefault(tp.topic, []).extend(items)
        round_result = ApplyResult()
        for topic, items in by_topic.items():
            result = self.applier.apply(items)
            APPLIED.labels(topic).inc(result.applied)
            DUPLICATES.labels(topic).inc(result.duplicates)
            round_result.add(result)
        self._send_dead_letters(producer, letters)
        self.totals.add(round_result)
        return round_result

    def _send_dead_letters(self, producer, letters: List[Tuple[object, str]]) -> None:
        futures = []
        for record, reason in letters:
            headers = [("reason", reason.encode()), ("source_topic", record.topic.encode()),
                       ("source_partition", str(record.partition).encode()),
                       ("source_offset", str(record.offset).encode())]
            futures.append(producer.send(self.topics.dead_letter, key=record.key, value=record.value,
                                         headers=headers))
        if futures:
            producer.flush(timeout=10)
            for future in futures:
                future.get(timeout=0)  # raises when the broker did not take it: the round is retried
            for _, reason in letters:
                DEAD_LETTERS.labels(reason.split(":")[0]).inc()
            self.dead_letters += len(letters)

    def _rewind(self, consumer, records) -> None:
        """Seek back to the first record of the failed round on each partition still assigned."""
        assigned = consumer.assignment()
        for tp, batch in records.items():
            if batch and tp in assigned:
                consumer.seek(tp, batch[0].offset)

    def _housekeeping(self, consumer) -> None:
        """Recreate topics a restarted development broker lost; refresh the lag gauge."""
        try:
            ensure_topics(self.bootstrap, self.topics.all)
        except Exception as error:
            log.info("cannot check topics: %s", error)
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - consumer.position(tp, timeout_ms=1000), 0))
            except Exception:
                pass
