"""The service's JSON provider answers what Flask's default provider answers, faster."""
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

import numpy as np
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.api.fast_json import FastJSONProvider


@dataclass
class Point:
    x: int
    y: float


@pytest.fixture
def providers():
    app = Flask(__name__)
    fast, default = FastJSONProvider(app), DefaultJSONProvider(app)
    fast.sort_keys = default.sort_keys = False
    with app.app_context():
        yield fast, default


@pytest.mark.parametrize("value", [
    {"decision_id": "v1.abc.def", "creative": {"payload": {"tags": ["a", "b"]}, "price": 0.99}, "propensity": 0.1234},
    {"city": "münchen", "emoji": "\U0001F600", "quote": "say \"hi\"\n"},
    {"when": datetime(2026, 11, 3, 9, 59, 59, tzinfo=timezone.utc), "day": date(2026, 11, 3)},
    {"id": uuid.UUID(int=7), "amount": Decimal("9.98"), "point": Point(1, 2.5)},
    {"lone surrogate": "\ud800", "n": 1},
    {"z": 1, "a": 2},
    [1, 2.5, None, True, "x"],
])
def test_answers_decode_to_what_the_default_provider_writes(providers, value):
    fast, default = providers
    assert json.loads(fast.dumps(value)) == json.loads(default.dumps(value))
    assert list(json.loads(fast.dumps({"z": 1, "a": 2}))) == ["z", "a"]  # key order kept


def test_numpy_numbers_and_arrays_are_written_as_numbers(providers):
    fast, _ = providers
    assert json.loads(fast.dumps({"p": np.float64(0.25), "n": np.int64(3), "a": np.array([0.5, 1.0])})) == \
        {"p": 0.25, "n": 3, "a": [0.5, 1.0]}


def test_a_response_is_compact_json_with_the_json_mimetype(providers):
    fast, _ = providers
    response = fast.response({"status": "accepted"})
    assert response.mimetype == "application/json"
    assert response.get_data() == b'{"status":"accepted"}\n'


def test_what_no_encoder_knows_is_still_an_error(providers):
    fast, _ = providers
    with pytest.raises(TypeError):
        fast.dumps({"x": object()})
