"""json_line (NDJSON rows of ingest-events) gives what json.loads gives, value or error, through orjson
or the standard library."""
import json

import pytest

from app.service.event_files import json_line

LINES = [
    b'{"event_id": "app_launched", "customer_identifier": "u1", "score": "8987", "won": "1"}\n',
    b'{"a": NaN, "b": Infinity}', b'{"a": 1e400}', b'{"a": 123456789012345678901234567890}',
    b'{"a": 9223372036854775808}', b'{"a": -9223372036854775809}', b'{"a": 18446744073709551615}',
    b'{"x": {"y": [1, 123456789012345678901234567890]}}', b'[{"a": 99999999999999999999}]', b'12345678901234567890123',
    b'{"a": 1e19, "b": 1e-7, "c": -0.0}', b'{"a": 1, "a": 2}', b'"\\ud800"', '{"é": "ü"}'.encode("utf-16"),
    b'\xef\xbb\xbf{"a": 1}', b'  {"a": true}  \n', b'[]', b'null',
]
BAD = [b'{"a": [1, 2', b'\xff', b'{"a": 1} x', b'', b'{a: 1}']


@pytest.mark.parametrize("line", LINES, ids=repr)
def test_a_line_reads_as_json_loads_reads_it(line):
    value = json_line(line)
    assert repr(value) == repr(json.loads(line))  # repr: an int stays an int, nan compares by text


@pytest.mark.parametrize("line", BAD, ids=repr)
def test_a_bad_line_raises_what_json_loads_raises(line):
    with pytest.raises(ValueError) as expected:
        json.loads(line)
    with pytest.raises(ValueError) as got:
        json_line(line)
    assert type(got.value) is type(expected.value) and str(got.value) == str(expected.value)
