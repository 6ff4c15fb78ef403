"""Kafka mode of the service: impressions and clicks are published, not written to Cassandra.

``Runtime.build`` chooses this publisher instead of the ``ImpressionWriter`` when
``KAFKA_BOOTSTRAP_SERVERS`` is set; it has the same ``submit``/``flush``/``close`` verbs, and
``publish_click`` for clicks (whose exactly-once claim stays in the service).

The request path puts an impression on a bounded in-memory queue and returns. A click waits until
it is durable: acknowledged by the broker, or written to the spool (and synced to disk) when the
broker is down; only then does ``POST /click`` answer 202. One sender thread
per process collects what arrives within ``LINGER_S``, packs each slot's events into one message
(app/stream/messages.py, ``pack``), and sends to the broker keyed by slot, one request in flight,
so one slot's events keep their order. When a send fails (broker down, topics lost), that batch and
everything after it go to the on-disk spool (app/stream/spool.py); every second the sender tries
the broker again, drains the spool oldest first and only then sends new messages directly again.
A batch whose fate is unknown is resent: the worker skips the duplicates by event id.

``/readyz`` shows ``kafka: ok`` or ``kafka: spooling`` with the spool depth. Messages are dropped
(and counted in ``slotbandit_stream_dropped_total``) only when both the queue and the spool are
full.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import List, Optional, Sequence

from prometheus_client import Counter, Gauge

from app.settings import Settings, SettingsError
from app.storage.impressions import Impression
from app.storage import Event
from app.stream.kafka_io import ensure_topics, make_producer
from app.stream.messages import StreamEvent, Topics, pack
from app.stream.spool import Message, Spool

log = logging.getLogger(__name__)

PUBLISHED = Counter("slotbandit_stream_published_total", "Events acknowledged by the broker", ["kind"])
DROPPED = Counter("slotbandit_stream_dropped_total", "Events lost because queue and spool were full", ["reason"])
SPOOLED = Gauge("slotbandit_stream_spool_depth", "Events waiting in the on-disk spool", multiprocess_mode="livesum")
QUEUE_SIZE = 10_000
BATCH = 500
LINGER_S = 0.02  # how long the sender collects events before packing them
PER_MESSAGE = 100  # events per message at most
RETRY_S = 1.0
FLUSH_TIMEOUT_S = 8.0
CLICK_DURABLE_TIMEOUT_S = FLUSH_TIMEOUT_S + 2.0  # a click not durable by then is answered 503 (and resent)


class _Ack:
    """A click waiting until the sender made it durable (``ok``) or could not."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class KafkaPublisher:
    def __init__(self, settings: Settings, queue_size: int = QUEUE_SIZE):
        # kafka-python logs every failed reconnect; the publisher logs the state changes itself.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        self.bootstrap = settings.kafka_bootstrap_servers
        self.topics = Topics(settings.kafka_topic_prefix)
        self._spool_dir, self._spool_max = settings.spool_dir, settings.spool_max_events
        try:
            self._spool_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SettingsError(f"SLOTBANDIT_SPOOL_DIR {self._spool_dir} cannot be created: {error.strerror}") from None
        if not os.access(self._spool_dir, os.W_OK):
            raise SettingsError(f"SLOTBANDIT_SPOOL_DIR {self._spool_dir} is not writable by this user")
        self._queue: "queue.Queue[StreamEvent]" = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._done = threading.Condition()
        self._outstanding = 0
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._spool: Optional[Spool] = None
        self._producer = None
        self._connected = False
        self._down = False  # the last send failed
        self._next_try = 0.0
        self._acks: dict = {}  # id(StreamEvent) -> _Ack of the clicks waiting to be durable

    # --- request path -------------------------------------------------------------------------

    def submit(self, impression: Impression) -> bool:
        """Publish an impression (same verb as ``ImpressionWriter.submit``)."""
        return self.publish(StreamEvent(impression.event(), impression.token.segments, impression.bucket()))

    def publish_click(self, event: Event, segments: Sequence[str],
                      timeout_s: float = CLICK_DURABLE_TIMEOUT_S, bucket: Optional[int] = None) -> bool:
        """Publish a click and wait until it is on the broker or in the spool on disk; False when
        it could not be made durable in time (the caller answers 503 and the client sends it again:
        a click published twice is applied once, by its event id)."""
        item, ack = StreamEvent(event, tuple(segments), bucket), _Ack()
        with self._done:
            self._acks[id(item)] = ack
        if not self.publish(item):
            with self._done:
                self._acks.pop(id(item), None)
            return False
        durable = ack.done.wait(timeout_s) and ack.ok
        with self._done:
            self._acks.pop(id(item), None)
        return durable

    def publish(self, item: StreamEvent) -> bool:
        """Queue one event; False (counted) only when the queue is full."""
        self._ensure_thread()
        with self._done:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                DROPPED.labels("queue_full").inc()
                return False
            self._outstanding += 1
        return True

    def state(self) -> dict:
        """What /readyz shows: whether the broker takes events now, and the spool depth."""
        depth = self._spool.depth if self._spool is not None else 0
        return {"kafka": "spooling" if self._down or depth else "ok", "spooled": depth}

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything submitted so far is on the broker or in the spool."""
        with self._done:
            return self._done.wait_for(lambda: self._outstanding == 0, timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        self.flush(timeout_s)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        if self._producer is not None:
            self._producer.close(timeout=2)
        if self._spool is not None:
            self._spool.close()

    # --- sender thread ------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:  # started lazily: after gunicorn forked, one per worker process
            if self._thread is None or not self._thread.is_alive():
                if self._spool is None:
                    self._spool = Spool(self._spool_dir, self._spool_max, weigh=lambda message: _events_in(message[2]))
                    SPOOLED.set(self._spool.depth)
                self._thread = threading.Thread(target=self._run, name="kafka-publisher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set() or not self._queue.empty():
            items = self._take()
            durable = False
            try:
                durable = self._handle(items)
            except Exception:  # never let the sender die
                log.exception("kafka publisher failed a batch")
            finally:
                if items:
                    with self._done:
                        self._outstanding -= len(items)
                        for item in items:
                            ack = self._acks.get(id(item))
                            if ack is not None:
                                ack.ok = durable
                                ack.done.set()
                        self._done.notify_all()

    def _take(self) -> List[StreamEvent]:
        """The events that arrive within ``LINGER_S`` of the first (at most ``BATCH``)."""
        try:
            items = [self._queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        # A click waits for its answer until it is durable: send what is there now, without lingering.
        until = time.monotonic() + (0.0 if self._acks else LINGER_S)
        while len(items) < BATCH:
            left = until - time.monotonic()
            try:
                items.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _handle(self, items: List[StreamEvent]) -> bool:
        """Send the items, or spool them; True when all of them are on the broker or in the spool."""
        spool = self._spool
        if spool.depth and time.monotonic() >= self._next_try:
            self._drain_spool()
        if not items:
            return True
        messages = self._pack(items)
        if spool.depth == 0 and (self._connected or time.monotonic() >= self._next_try) and self._send(messages):
            return True
        with self._done:
            clicks_wait = any(id(item) in self._acks for item in items)
        return self._to_spool(messages, sync=clicks_wait)

    def _pack(self, items: List[StreamEvent]) -> List[Message]:
        """One message per topic and slot (at most ``PER_MESSAGE`` events each), order kept."""
        groups: dict = {}
        for item in items:
            groups.setdefault((self.topics.for_kind(item.event.kind), item.key), []).append(item)
        return [(topic, key, pack(group[start : start + PER_MESSAGE]))
                for (topic, key), group in groups.items() for start in range(0, len(group), PER_MESSAGE)]

    def _drain_spool(self) -> None:
        """Send the spool oldest first while the broker takes it."""
        spool = self._spool
        while spool.depth and not self._stopping.is_set():
            chunk = spool.peek(50)  # messages of up to PER_MESSAGE events each
            if not chunk or not self._send(chunk):
                return
            spool.pop(len(chunk), sum(_events_in(value) for _, _, value in chunk))
            SPOOLED.set(spool.depth)
            if spool.depth:
                log.debug("drained a spool chunk", extra={"left": spool.depth})

    def _to_spool(self, items: List[Message], sync: bool = False) -> bool:
        """Spool the messages (synced to disk when a click waits on them); False when some were refused."""
        refused = self._spool.append(items, sync=sync)
        if refused:
            events = sum(_events_in(value) for _, _, value in items[len(items) - refused :])
            DROPPED.labels("spool_full").inc(events)
            log.error("spool full: %d events dropped", events)
        SPOOLED.set(self._spool.depth)
        return not refused

    def _send(self, items: List[Message]) -> bool:
        """Send and wait for acknowledgement; False (broker marked down) if any message failed."""
        try:
            if self._producer is None:
                ensure_topics(self.bootstrap, self.topics.all, timeout_ms=2000)
                self._producer = make_producer(self.bootstrap)
            futures = [self._producer.send(topic, key=key, value=value) for topic, key, value in items]
            self._producer.flush(timeout=FLUSH_TIMEOUT_S)
            if all(f.is_done and f.succeeded() for f in futures):
                for topic, _, value in items:
                    PUBLISHED.labels("impression" if topic == self.topics.impressions else "click").inc(
                        _events_in(value))
                if self._down:
                    log.info("kafka broker reachable again: publishing")
                self._connected, self._down = True, False
                return True
        except Exception as error:
            log.warning("kafka send failed: %s", error)
        self._broker_down()
        return False

    def _broker_down(self) -> None:
        if self._connected:
            log.warning("kafka broker unreachable: spooling events")
        self._connected, self._down = False, True
        self._next_try = time.monotonic() + RETRY_S
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)  # drops its buffer: those messages are spooled by the caller
            except Exception:
                pass


def _events_in(value: bytes) -> int:
    """How many events a packed message holds."""
    return value.count(b'"event_id":')
