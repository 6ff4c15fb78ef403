"""A small bounded least-recently-used map that threads can share."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from bandit.checks import require_positive_int

__all__ = ["LruCache"]

V = TypeVar("V")


class LruCache(Generic[V]):
    """At most max_entries values; the least recently used one leaves first.

    Every operation holds one lock for a dictionary lookup or insert, so the
    map is safe under gunicorn threads. Computing a value happens outside the
    lock; setdefault() then keeps whichever value was stored first, so all
    callers see the same value for a key.
    """

    def __init__(self, max_entries: int) -> None:
        require_positive_int("max_entries", max_entries)
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value stored under key (now the most recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def setdefault(self, key: Hashable, value: V) -> V:
        """Store value under key unless a value is there already; return the stored one."""
        with self._lock:
            stored = self._entries.get(key)
            if stored is not None:
                self._entries.move_to_end(key)
                return stored
            self._entries[key] = value
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
