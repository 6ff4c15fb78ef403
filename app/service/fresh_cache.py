"""Per-process caches that keep Cassandra off the request path.

``RefreshingCache`` loads a key synchronously the first time it is asked for, then serves it from
memory. Once an entry is older than ``ttl_s`` the next request still gets the cached value at once
and a background thread reloads it ("stale while revalidate"). So a value is at most about
``ttl_s`` plus one reload old while it is in use, and a request waits on storage only for a key
it has never seen. When storage is down, the last good value keeps being served.
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


@dataclass
class _Entry(Generic[V]):
    value: V
    loaded_at: float
    used_at: float


class RefreshingCache(Generic[K, V]):
    def __init__(
        self,
        name: str,
        loader: Callable[[K], V],
        ttl_s: float,
        idle_evict_s: float = 600.0,
        max_entries: int = 100_000,
        on_refresh_error: Optional[Callable[[str], None]] = None,
    ):
        self.name = name
        self._loader = loader
        self._ttl_s = ttl_s
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
        entry.used_at = now
        if now - entry.loaded_at > self._ttl_s:
            self._schedule(key)
        return entry.value

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

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
        now = time.monotonic()
        if entry is None:
            return
        if now - entry.used_at > self._idle_evict_s:
            self._entries.pop(key, None)
            return
        try:
            value = self._loader(key)
        except Exception as error:  # keep serving the last good value; try again after another ttl
            entry.loaded_at = time.monotonic()
            log.warning("cache refresh failed", extra={"cache": self.name, "error": str(error)[:200]})
            if self._on_refresh_error:
                self._on_refresh_error(self.name)
            return
        self._entries[key] = _Entry(value, time.monotonic(), entry.used_at)
