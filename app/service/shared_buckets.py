"""Token buckets in shared memory: one bucket per tenant for every worker process of an instance.

``slotbandit serve`` creates one file per service instance before gunicorn forks its workers
(``SLOTBANDIT_RATE_LIMIT_FILE``); every worker maps it, so a tenant's requests draw from one bucket
whichever worker serves them. A process without that file (tests, a single process) maps a
private temporary file: its buckets are its own.

The file is a table of ``SLOTS`` records of ``RECORD`` bytes: the tenant's 64-bit key (0: free),
its tokens and the moment they were counted (``time.monotonic``, one clock for every process of
the machine). A tenant's record is found by open addressing from its key's hash and then never
moves, so each process remembers where it is. A bucket is read and written under a POSIX record
lock of its own bytes (``fcntl.lockf``): workers serving different tenants never wait on each
other. A thread lock besides, because POSIX locks do not exclude threads of one process.

Refill: tokens = min(burst, tokens + rate * elapsed); a request takes one token or, when less
than one is left, is refused with the wait until one is there: (1 - tokens) / rate.

A fast tenant's worker takes several tokens at once: up to RESERVE_S seconds of its rate (and at
most a quarter of its burst), spent from a reserve of the process without a lock. A record lock
costs a system call that gives up the interpreter lock, about 35 us a request in a worker whose
driver threads want it back; a tenant at 10,000 requests a second pays it once per 100. A slow
tenant (rate below 2 / RESERVE_S = 200 a second) takes one token at a time, so its limit is exact;
a fast one may see a worker hold up to RESERVE_S of its rate that another worker could have used.
"""
from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import tempfile
import threading
from pathlib import Path
from typing import Dict, Optional

SLOTS = 4096
RECORD = struct.Struct("<Qdd8x")  # key, tokens, counted_at; padded to 32 bytes
SIZE = SLOTS * RECORD.size
RESERVE_S = 0.01  # a worker takes up to this many seconds of a fast tenant's rate at once


def tenant_key(tenant: str) -> int:
    """A non-zero 64-bit key of the tenant's name (0 marks a free record)."""
    return int.from_bytes(hashlib.blake2b(tenant.encode(), digest_size=8).digest(), "little") | 1


class TableFull(Exception):
    """Every record is taken by another tenant (more than SLOTS limited tenants on one instance)."""


class SharedBuckets:
    def __init__(self, path: Optional[Path] = None):
        self.path = path
        self._fd: Optional[int] = None
        self._map: Optional[mmap.mmap] = None
        self._where: Dict[str, int] = {}  # tenant -> byte offset of its record
        self._reserve: Dict[str, int] = {}  # tenant -> tokens this process took and has not spent yet
        self._lock = threading.Lock()

    def take(self, tenant: str, rate: float, burst: float, now: float) -> float:
        """Take one token from the tenant's bucket (``rate`` tokens a second, at most ``burst``):
        0.0 when taken, else the seconds until one will be there."""
        with self._lock:
            reserve = self._reserve.get(tenant, 0)
            if reserve > 0:
                self._reserve[tenant] = reserve - 1
                return 0.0
            if self._map is None:
                self._open()
            offset = self._where.get(tenant)
            if offset is None:
                offset = self._where[tenant] = self._find(tenant_key(tenant))
            fcntl.lockf(self._fd, fcntl.LOCK_EX, RECORD.size, offset)
            try:
                key, tokens, counted_at = RECORD.unpack_from(self._map, offset)
                if counted_at == 0.0:  # a new bucket starts full
                    tokens = burst
                else:
                    tokens = min(burst, tokens + max(0.0, now - counted_at) * rate)
                wait = 0.0
                if tokens >= 1.0:
                    taken = max(1, int(min(tokens, rate * RESERVE_S, burst / 4)))
                    tokens -= taken
                    self._reserve[tenant] = taken - 1
                else:
                    wait = (1.0 - tokens) / rate
                RECORD.pack_into(self._map, offset, key, tokens, max(now, counted_at))  # never back in time
                return wait
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, RECORD.size, offset)

    def _open(self) -> None:
        if self.path is None:
            handle = tempfile.TemporaryFile(prefix="slotbandit-rate-limits-")
            self._fd = os.dup(handle.fileno())
            handle.close()
        else:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.lockf(self._fd, fcntl.LOCK_EX)  # one process sizes the file; the others find it sized
        try:
            if os.fstat(self._fd).st_size < SIZE:
                os.ftruncate(self._fd, SIZE)  # zero bytes: every record free
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
        self._map = mmap.mmap(self._fd, SIZE)

    def _find(self, key: int) -> int:
        """The offset of the record of ``key``, claiming a free one (under its lock) the first time."""
        start = key % SLOTS
        for step in range(SLOTS):
            offset = ((start + step) % SLOTS) * RECORD.size
            (found,) = struct.unpack_from("<Q", self._map, offset)
            if found == key:
                return offset
            if found != 0:
                continue
            fcntl.lockf(self._fd, fcntl.LOCK_EX, RECORD.size, offset)
            try:
                (found,) = struct.unpack_from("<Q", self._map, offset)
                if found == 0:
                    RECORD.pack_into(self._map, offset, key, 0.0, 0.0)
                    return offset
                if found == key:  # another process claimed it for the same tenant meanwhile
                    return offset
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, RECORD.size, offset)
        raise TableFull(f"all {SLOTS} rate limit records are taken")

    def close(self) -> None:
        with self._lock:
            if self._map is not None:
                self._map.close()
                os.close(self._fd)
                self._map = self._fd = None
                self._where.clear()
                self._reserve.clear()
