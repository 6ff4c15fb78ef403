"""A bounded on-disk spool of messages waiting for the broker, drained in order.

Each process appends to its own file ``spool-<pid>.log`` under ``SLOTBANDIT_SPOOL_DIR`` (one JSON
line per message: topic, key, value) and keeps an exclusive lock on it while it lives. The read
position is kept beside it (``.pos``), written after every chunk the broker acknowledged, so a
process that dies mid-drain resends at most one chunk (the worker skips those duplicates by
event id). A new process adopts the files whose owner is gone: their unsent lines are copied to
the front of its own spool, so nothing spooled is lost across restarts.

The spool holds at most ``max_events`` events (``SLOTBANDIT_SPOOL_MAX_EVENTS``, 200,000 by
default: more than 16 minutes at 200 events/s). When it is full, ``append`` refuses the overflow
and says how many it refused; the caller counts them. It never blocks and never raises for that.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Tuple

Message = Tuple[str, bytes, bytes]  # (topic, key, value)


class Spool:
    """``depth`` is the number of events waiting: ``weigh(message)`` says how many a message holds
    (one by default)."""

    def __init__(self, directory: Path, max_events: int, name: Optional[str] = None,
                 weigh: Callable[[Message], int] = lambda message: 1):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_events = max_events
        self.weigh = weigh
        self.path = self.directory / (name or f"spool-{os.getpid()}.log")
        self._file = open(self.path, "a+b")
        fcntl.flock(self._file, fcntl.LOCK_EX)
        self._read_at = _read_position(self.path)
        self.depth = sum(weigh(_decode(line)) for line in self._lines_from(self._read_at))
        self._adopt_orphans()

    def append(self, messages: Iterable[Message], sync: bool = False) -> int:
        """Append what fits; returns how many messages were refused because the spool is full
        (once one is refused, all later ones are, so that order is kept). ``sync`` waits until the
        lines are on disk (fsync), not only handed to the operating system."""
        lines, refused, added = [], 0, 0
        for message in messages:
            weight = self.weigh(message)
            if refused or self.depth + added + weight > self.max_events:
                refused += 1
                continue
            lines.append(_encode(*message))
            added += weight
        if lines:
            self._file.seek(0, os.SEEK_END)
            self._file.write(b"".join(lines))
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
            self.depth += added
        return refused

    def peek(self, limit: int) -> List[Message]:
        """Up to ``limit`` oldest messages, without removing them."""
        messages = []
        for line in self._lines_from(self._read_at):
            messages.append(_decode(line))
            if len(messages) >= limit:
                break
        return messages

    def pop(self, count: int, weight: Optional[int] = None) -> None:
        """Remove the ``count`` oldest messages (after the broker acknowledged them); ``weight``
        is the number of events they hold (``count`` when not given)."""
        self._file.flush()
        with open(self.path, "rb") as reader:
            reader.seek(self._read_at)
            for _ in range(count):
                if not reader.readline():
                    break
            self._read_at = reader.tell()
        self.depth = max(self.depth - (count if weight is None else weight), 0)
        if self.depth == 0:
            self._file.truncate(0)
            self._read_at = 0
        _write_position(self.path, self._read_at)

    def close(self) -> None:
        self._file.close()

    def _lines_from(self, offset: int):
        self._file.flush()
        with open(self.path, "rb") as reader:
            reader.seek(offset)
            for line in reader:
                if line.endswith(b"\n"):  # a torn last line (killed mid-write) is ignored
                    yield line

    def _adopt_orphans(self) -> None:
        """Take over the spools of processes that are gone (their files are not locked)."""
        for other in sorted(self.directory.glob("spool-*.log")):
            if other == self.path:
                continue
            with open(other, "rb") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its owner is alive
                handle.seek(_read_position(other))
                lines = [line for line in handle if line.endswith(b"\n")]
                self.append(_decode(line) for line in lines)
                other.unlink()
                other.with_suffix(".pos").unlink(missing_ok=True)


def _encode(topic: str, key: bytes, value: bytes) -> bytes:
    return json.dumps([topic, key.decode(), value.decode()], separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> Message:
    topic, key, value = json.loads(line)
    return topic, key.encode(), value.encode()


def _read_position(path: Path) -> int:
    try:
        return int(path.with_suffix(".pos").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _write_position(path: Path, offset: int) -> None:
    tmp = path.with_suffix(".pos.tmp")
    tmp.write_text(str(offset))
    os.replace(tmp, path.with_suffix(".pos"))
