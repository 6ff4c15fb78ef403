"""The one Cassandra handle of a process.

A ``Database`` connects lazily, on first use, so that gunicorn workers each open their own
``Cluster`` after the fork (the driver's connections and threads do not survive a fork). When the
cluster cannot be reached, every use raises ``StorageUnavailable`` (a 503) and the next use after a
short back-off tries again: the service keeps answering ``/healthz`` while storage is down.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Dict, Optional, Tuple

from cassandra import (ConsistencyLevel, DriverException, InvalidRequest, OperationTimedOut, RequestExecutionException,
                       Unavailable, WriteFailure, WriteTimeout)
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable, Session
from cassandra.connection import ConnectionException
from cassandra.policies import ExponentialReconnectionPolicy, FallthroughRetryPolicy, RoundRobinPolicy
from cassandra.query import PreparedStatement, dict_factory

from app.errors import StorageUnavailable
from app.settings import Settings

log = logging.getLogger(__name__)

# What the driver raises when storage is down or slow: the API answers these with a 503.
DRIVER_ERRORS = (NoHostAvailable, RequestExecutionException, DriverException)
# A write that provably did not happen (safe to retry or to undo what went before it).
NOT_APPLIED = (Unavailable, NoHostAvailable, StorageUnavailable)
# A write whose outcome is unknown: it may or may not have been applied (a timeout, a coordinator
# that failed or whose connection dropped after the request was sent).
AMBIGUOUS = (WriteTimeout, WriteFailure, OperationTimedOut, ConnectionException)
# For writes that are not idempotent (counters): the driver's default policy sends a request whose
# connection dropped to the next host, which may apply it a second time. These are never resent by
# the driver; the caller settles them (see app/storage/counts.py).
NO_RETRY = FallthroughRetryPolicy()
# Why a connection attempt failed: no host answered, or the keyspace is unknown.
CONNECT_ERRORS = (NoHostAvailable, InvalidRequest)
UNREACHABLE = NoHostAvailable

RECONNECT_BACKOFF_S = 1.0
REQUEST_TIMEOUT_S = 5.0
# The driver tries a lost node again after 0.2 s, doubling up to 1 s: a node that answers again is
# used within about a second (the driver's default grows to 10 minutes).
RECONNECT_BASE_S, RECONNECT_MAX_S = 0.2, 1.0


def connect_cluster(settings: Settings, keyspace: Optional[str] = None,
                    connect_timeout: float = 5.0) -> Tuple[Cluster, Session]:
    """A connected ``Cluster`` and ``Session``. With no protocol version set, the driver negotiates;
    Cassandra 2.1 (the embedded server, also as a local cluster) refuses the opening offer, and the
    connection is made again at protocol v3."""
    cluster = make_cluster(settings, connect_timeout)
    try:
        return cluster, cluster.connect(keyspace)
    except NoHostAvailable as error:
        cluster.shutdown()
        if settings.effective_protocol_version is not None or "protocol version" not in str(error).lower():
            raise
    log.info("cassandra speaks an older protocol: connecting with protocol v3")
    cluster = make_cluster(settings, connect_timeout, protocol_version=3)
    try:
        return cluster, cluster.connect(keyspace)
    except Exception:
        cluster.shutdown()
        raise


def make_cluster(settings: Settings, connect_timeout: float = 5.0, protocol_version: Optional[int] = None) -> Cluster:
    """A driver ``Cluster`` for the configured contact points (no keyspace, no connection yet)."""
    profile = ExecutionProfile(
        load_balancing_policy=RoundRobinPolicy(),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        request_timeout=REQUEST_TIMEOUT_S,
        row_factory=dict_factory,
    )
    kwargs = {}
    protocol_version = protocol_version or settings.effective_protocol_version
    if protocol_version is not None:
        kwargs["protocol_version"] = protocol_version
    if settings.username:
        kwargs["auth_provider"] = PlainTextAuthProvider(settings.username, settings.password)
    return Cluster(
        list(settings.contact_points),
        port=settings.cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        reconnection_policy=ExponentialReconnectionPolicy(RECONNECT_BASE_S, RECONNECT_MAX_S),
        connect_timeout=connect_timeout,
        control_connection_timeout=connect_timeout,
        **kwargs,
    )


class Database:
    """Lazily connected session bound to the configured keyspace, with a prepared-statement cache."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._cluster: Optional[Cluster] = None
        self._session: Optional[Session] = None
        self._prepared: Dict[str, PreparedStatement] = {}
        self._last_failure = 0.0

    @property
    def session(self) -> Session:
        session = self._session
        if session is not None:
            return session
        with self._lock:
            if self._session is None:
                self._connect()
            return self._session

    def connect(self) -> None:
        """Connect now; raises the driver's own error (the CLI explains it to the operator)."""
        cluster, self._session = connect_cluster(self.settings, self.settings.keyspace)
        self._cluster = cluster
        log.info("connected to cassandra", extra={"hosts": list(self.settings.contact_points)})

    def _connect(self) -> None:
        if time.monotonic() - self._last_failure < RECONNECT_BACKOFF_S:
            raise StorageUnavailable("storage is unavailable, retry later")
        try:
            self.connect()
        except Exception as error:  # NoHostAvailable, unknown keyspace, auth failure
            self._last_failure = time.monotonic()
            log.warning("cannot connect to cassandra: %s", one_line(error))
            raise StorageUnavailable("storage is unavailable, retry later") from None

    def prepare(self, cql: str) -> PreparedStatement:
        """Prepare ``cql`` once per process; later calls return the cached statement."""
        statement = self._prepared.get(cql)
        if statement is None:
            statement = self.session.prepare(cql)
            self._prepared[cql] = statement
        return statement

    def execute(self, cql: str, params=(), consistency: Optional[int] = None):
        statement = self.prepare(cql)
        bound = statement.bind(params)
        if consistency is not None:
            bound.consistency_level = consistency
        return self.session.execute(bound)

    def execute_async(self, cql: str, params=()):
        return self.session.execute_async(self.prepare(cql).bind(params))

    def run(self, statement, timeout: Optional[float] = None):
        """Execute a ready statement (a batch of bound statements), by default within REQUEST_TIMEOUT_S."""
        return self.session.execute(statement, timeout=timeout or REQUEST_TIMEOUT_S)

    def run_async(self, statement):
        """Start a ready statement; the driver's future."""
        return self.session.execute_async(statement)

    def ping(self) -> bool:
        """True when the cluster answers a trivial query right now."""
        try:
            self.session.execute("SELECT release_version FROM system.local", timeout=2.0)
            return True
        except (StorageUnavailable, NoHostAvailable, Exception):  # readiness must never raise
            return False

    def shutdown(self) -> None:
        with self._lock:
            if self._cluster is not None:
                self._cluster.shutdown()
            self._cluster = self._session = None
            self._prepared.clear()


def cql_answers(host: str, port: int, protocol_version: Optional[int]) -> bool:
    """True if a CQL session to host:port connects and reads system.local (quietly False otherwise)."""
    return _probe(host, port, protocol_version,
                  lambda session: session.execute("SELECT release_version FROM system.local").one() is not None,
                  False)


def ring_size(host: str, port: int, protocol_version: Optional[int]) -> int:
    """How many nodes the node at host:port knows in its ring (itself and system.peers); 0 if it does not answer."""
    return _probe(host, port, protocol_version,
                  lambda session: 1 + len(list(session.execute("SELECT peer FROM system.peers"))), 0)


def _probe(host: str, port: int, protocol_version: Optional[int], ask, unanswered):
    """``ask(session)`` on a short-lived connection to one node; ``unanswered`` when it fails."""
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=5)
    cluster = Cluster([host], port=port, protocol_version=protocol_version, connect_timeout=3,
                      control_connection_timeout=3, execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    try:
        return ask(cluster.connect())
    except Exception:
        return unanswered
    finally:
        cluster.shutdown()


def one_line(error: Exception) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__
