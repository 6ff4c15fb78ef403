"""Kafka clients of the service and the worker, configured in one place.

The development broker keeps topics in memory and loses them on a restart, so ``ensure_topics``
is called whenever a client (re)connects; on a real cluster it finds the topics and does nothing.
"""
from __future__ import annotations

import logging
from typing import Iterable

from app.stream.messages import PARTITIONS

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_MS = 5000


def make_producer(bootstrap: str, max_block_ms: int = 2000):
    """A producer that keeps one slot's order (one request in flight) and waits for all replicas."""
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_in_flight_requests_per_connection=1,
        retries=3, request_timeout_ms=REQUEST_TIMEOUT_MS, delivery_timeout_ms=REQUEST_TIMEOUT_MS + 1000,
        max_block_ms=max_block_ms, bootstrap_timeout_ms=max_block_ms, reconnect_backoff_max_ms=1000,
    )


def make_consumer(bootstrap: str, group: str, **overrides):
    """A consumer-group member that commits by hand and starts from the beginning of a new topic."""
    from kafka import KafkaConsumer

    options = dict(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
        session_timeout_ms=6000, heartbeat_interval_ms=1000, max_poll_records=500,
        request_timeout_ms=REQUEST_TIMEOUT_MS + 31000, reconnect_backoff_max_ms=1000,
        metadata_max_age_ms=5000,
    )
    options.update(overrides)
    return KafkaConsumer(**options)


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = PARTITIONS, timeout_ms: int = 5000) -> None:
    """Create the topics that do not exist yet (one replica each on the development broker);
    raises within about ``timeout_ms`` when the broker does not answer."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms,
                             bootstrap_timeout_ms=timeout_ms)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics if t not in existing]
        if missing:
            try:
                admin.create_topics(missing)
                log.info("created kafka topics", extra={"topics": [t.name for t in missing]})
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
