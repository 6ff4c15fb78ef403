"""compact_json writes what json.dumps(sort_keys, no spaces, ensure_ascii=False) writes, to the byte,
whether orjson or the standard library writes it: raw events are identified by a hash of this text,
so a file loaded before and after must hash the same."""
import json
import math
import random
import struct

import pytest

from app.storage.customer_events import compact_json


def reference(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


EDGES = [
    0.0, -0.0, 1e-4, 9.99e-5, 1e-5, 1e-7, 1e15, 1e16, 1e22, 5e-324, 1.7976931348623157e308, 0.1 + 0.2,
    float("nan"), float("inf"), -float("inf"), 8987.0, 4.99,
    2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 2 ** 64, -2 ** 63, -2 ** 63 - 1, 10 ** 30, True, False, None,
    "", "plain", 'quote " backslash \\ slash /', "\x00\x01\x1f\x7f\b\f\n\r\t", "é ü 中文 😀 \u2028 \u2029 \ufeff",
    "lone \ud800 surrogate", [], {}, (1, "x"), [1, [2, [3.5, {"k": None}]]],
    {"b": 1, "a": 2, "é": 3, "😀": 4, "\uffff": 5, "A": 6}, {"nested": {"z": 1e-9, "a": "x"}},
    ["app_launched", "customer-1", "2026-11-24T10:15:00+00:00", "s1", None],
]


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_edge_values_are_written_as_the_standard_library_writes_them(value):
    assert compact_json(value) == reference(value)


def test_every_character_of_the_basic_plane_is_escaped_as_the_standard_library_escapes_it():
    text = "".join(chr(code) for code in range(0x10000) if not 0xD800 <= code < 0xE000)
    assert compact_json({"k": text}) == reference({"k": text})


def test_random_floats_and_mixed_values_match():
    rng = random.Random(20261203)
    for _ in range(20_000):
        bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        number = bits if math.isfinite(bits) else 1.5
        value = {"f": number, "g": round(rng.uniform(0, 1000), rng.randint(0, 6)),
                 "i": rng.randint(-2 ** 70, 2 ** 70), "s": chr(rng.randint(0, 0xD7FF)) * rng.randint(0, 3),
                 "l": [rng.random(), None, rng.random() < 0.5]}
        assert compact_json(value) == reference(value)


def test_non_string_keys_and_other_types_are_left_to_the_standard_library():
    assert compact_json({2: "a", 1: "b"}) == reference({2: "a", 1: "b"}) == '{"1":"b","2":"a"}'
    for unwritable in ({1: "a", "b": 2}, {"when": object()}):  # the standard library refuses both
        with pytest.raises(TypeError):
            reference(unwritable)
        with pytest.raises(TypeError):
            compact_json(unwritable)
