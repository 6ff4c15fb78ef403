"""Files of events for ``slotbandit ingest-events``: NDJSON, CSV or Parquet, read in chunks of rows.

Every row becomes the same kind of item ``POST /events`` receives (a dict), so that one parser
(``app/service/event_input.py``) validates both. CSV cells are strings (the string rules read them;
an empty cell is an unset field); Parquet values keep their types, and timestamps become ISO 8601.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator, List

import orjson

FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv", ".parquet": "parquet"}


class EventFileError(Exception):
    """The file cannot be read as events; ``str(error)`` is one line for the operator."""


@dataclass(frozen=True)
class EventFile:
    path: Path
    format: str
    size: int   # the progress total: bytes for NDJSON and CSV, rows for Parquet

    def chunks(self, rows: int) -> Iterator[tuple]:
        """(items, progress units read) per chunk of at most ``rows`` rows, in file order. An NDJSON
        line that is not JSON becomes the item ``NotJSON`` (refused by the parser with its reason)."""
        reader = {"ndjson": _ndjson, "csv": _csv, "parquet": _parquet}[self.format]
        return reader(self.path, rows)


class NotJSON(str):
    """An NDJSON line that does not parse: its message."""


def open_event_file(path: str, format: str = "auto") -> EventFile:
    """Check that ``path`` exists and reads as the format (from the extension unless given), by
    reading its first row; raise ``EventFileError`` with one line otherwise."""
    file = Path(path)
    if not file.is_file():
        raise EventFileError(f"{path}: no such file")
    kind = FORMATS.get(file.suffix.lower()) if format == "auto" else format
    if kind is None:
        raise EventFileError(f"{path}: cannot tell the format from the extension {file.suffix!r}; "
                             "use --format ndjson|csv|parquet")
    if kind == "parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise EventFileError("reading Parquet needs pyarrow: pip install 'slotbandit[parquet]'") from None
        try:
            size = pq.ParquetFile(file).metadata.num_rows
        except Exception as error:  # pyarrow raises several types for a file that is not Parquet
            raise EventFileError(f"{path}: not a readable Parquet file ({str(error).splitlines()[0][:120]})") from None
        return EventFile(file, kind, size)
    event_file = EventFile(file, kind, file.stat().st_size)
    rows = event_file.chunks(1)
    try:
        first = next(rows, ([], 0))[0]
    except UnicodeDecodeError as error:
        raise EventFileError(f"{path}: not a readable {kind.upper()} file ({error})") from None
    finally:
        rows.close()
    if first and isinstance(first[0], NotJSON):
        raise EventFileError(f"{path}: the first line is not JSON ({first[0]}); is the format {kind}?")
    return event_file


def _ndjson(path: Path, rows: int) -> Iterator[tuple]:
    with open(path, "rb") as lines:
        chunk: List[Any] = []
        done = 0
        for line in lines:
            done += len(line)
            if not line.strip():
                continue
            try:
                chunk.append(json_line(line))
            except (ValueError, RecursionError) as error:
                chunk.append(NotJSON(f"line is not JSON: {error}"))
            if len(chunk) == rows:
                yield chunk, done
                chunk, done = [], 0
        if chunk or done:
            yield chunk, done


def json_line(line: bytes) -> Any:
    """``json.loads(line)``: the same value or the same error, two to three times faster. orjson reads
    the line; what it refuses (NaN, UTF-16, a lone surrogate, bad JSON) goes to the standard library,
    which reads it or says what is wrong, and so does a line orjson may have read differently: one
    with an integer beyond 64 bits, which orjson makes a float."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)
    return value if _exact(value) else json.loads(line)


_BEYOND_64_BITS = 2.0 ** 63


def _exact(value: Any) -> bool:
    """False when ``value`` holds a whole float of 2**63 or more: maybe an integer of the line."""
    kind = value.__class__
    if kind is float:
        return not (abs(value) >= _BEYOND_64_BITS and value.is_integer())
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return True
    for item in value:
        if item.__class__ is not str and not _exact(item):
            return False
    return True


def _csv(path: Path, rows: int) -> Iterator[tuple]:
    done = [0]

    def lines(handle):
        for number, raw in enumerate(handle, 1):
            done[0] += len(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise EventFileError(f"{path}: line {number} is not UTF-8 text") from None

    with open(path, "rb") as handle:
        chunk: List[Any] = []
        reader = csv.DictReader(lines(handle))
        try:
            for row in reader:
                row.pop(None, None)  # cells beyond the header
                chunk.append(row)
                if len(chunk) == rows:
                    yield chunk, done[0]
                    chunk, done[0] = [], 0
        except csv.Error as error:
            raise EventFileError(f"{path}: not readable as CSV at line {reader.line_num} ({error})") from None
        if chunk or done[0]:
            yield chunk, done[0]


def _parquet(path: Path, rows: int) -> Iterator[tuple]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
        items = [{k: _plain(v) for k, v in row.items()} for row in batch.to_pylist()]
        yield items, len(items)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value

