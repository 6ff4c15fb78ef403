"""Per-process caches that keep Cassandra off the request path, with a hard bound on staleness.

``RefreshingCache`` loads a key synchronously the first time it is asked for, then serves it from
memory. Once an entry is older than ``ttl_s`` the next request still gets the cached value at once
and a background thread reloads it ("stale while revalidate"), so a busy key is reloaded about
every ``ttl_s``. An entry older than ``max_age_s`` (counted from the start of the read that loaded
it) is never served as it is: the request reads it again first. That bound holds across idle gaps,
which is what the freshness promises rest on (a revoked key, a paused creative). When that read
fails because storage is down, the last good value is served (no one can change it in a storage
that does not answer) and the next synchronous read is tried after ``RETRY_S``.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Generic, Hashable, Optional, Set, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)
RETRY_S = 1.0  # after a failed read, serve the last good value this long before reading again


@dataclass
class _Entry(Generic[V]):
    value: V
    loaded_at: float  # when the read that produced value started
    used_at: float
    retry_at: float = 0.0  # no read of this key before this moment (after a failed one)


class RefreshingCache(Generic[K, V]):
    def __init__(
        self,
        name: str,
        loader: Callable[[K], V],
        ttl_s: float,
        max_age_s: Optional[float] = None,
        idle_evict_s: float = 600.0,
        max_entries: int = 100_000,
        on_refresh_error: Optional[Callable[[str], None]] = None,
    ):
        if max_age_s is not None and max_age_s < ttl_s:
            raise ValueError(f"max_age_s must be at least ttl_s ({ttl_s}), but {max_age_s} is given")
        self.name = name
        self._loader = loader
        self._ttl_s = ttl_s
        self._max_age_s = max_age_s
        self._idle_evict_s = idle_evict_s
        self._max_entries = max_entries
        self._on_refresh_error = on_refresh_error
        self._entries: Dict[K, _Entry[V]] = {}
        self._pending: Set[K] = set()
        self._queue: "queue.Queue[K]" = queue.Queue()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def get(self, key: K) -> V:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None:
            value = self._loader(key)  # storage errors propagate: the caller answers 503
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = _Entry(value, now, now)
            return value
        age = now - entry.loaded_at
        if self._max_age_s is not None and age > self._max_age_s and now >= entry.retry_at:
            return self._read_now(key, entry, now)
        entry.used_at = now
        if age > self._ttl_s and now >= entry.retry_at:
            self._schedule(key)
        return entry.value

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

    def _read_now(self, key: K, entry: _Entry[V], now: float) -> V:
        """Read an entry past its bound again before serving it; the last good value if storage fails."""
        try:
            value = self._loader(key)
        except Exception as error:  # noqa: BLE001 - storage down: the last good value, said in log and metric
            self._failed(entry, error)
            entry.used_at = now
            return entry.value
        self._entries[key] = _Entry(value, now, now)
        return value

    def _failed(self, entry: _Entry[V], error: Exception) -> None:
        entry.retry_at = time.monotonic() + RETRY_S
        log.warning("cache refresh failed", extra={"cache": self.name, "error": str(error)[:200]})
        if self._on_refresh_error:
            self._on_refresh_error(self.name)

    def _schedule(self, key: K) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._refresh_forever, name=f"refresh-{self.name}", daemon=True)
                self._thread.start()
        self._queue.put(key)

    def _refresh_forever(self) -> None:
        while True:
            key = self._queue.get()
            try:
                self._refresh(key)
            finally:
                with self._lock:
                    self._pending.discard(key)

    def _refresh(self, key: K) -> None:
        entry = self._entries.get(key)
        started = time.monotonic()
        if entry is None:
            return
        if started - entry.used_at > self._idle_evict_s:
            self._entries.pop(key, None)
            return
        try:
            value = self._loader(key)
        except Exception as error:  # keep serving the last good value; try again after RETRY_S
            self._failed(entry, error)
            return
        self._entries[key] = _Entry(value, started, entry.used_at)
