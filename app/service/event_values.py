"""How the values of an event's fields are read: the same rules for the contract's shape and for
the raw game shape, where every value arrives as a string.

* An empty string (or only spaces) is an unset field, as if it were absent or null.
* A field the service knows to be a number (``NUMBER_FIELDS``) takes a JSON number or a decimal
  number written as a string: ``4.99`` and ``"4.99"`` are the same value. ``"abc"``, ``"1e999"``,
  ``"NaN"`` and ``true`` are refused.
* A field the service knows to be a flag (``FLAG_FIELDS``) takes ``true``/``false``, ``1``/``0``
  or those written as strings (``"true"``, ``"False"``, ``"1"``, ``"0"``).
* Every other field is kept as sent (strings stay strings), within the size limits of
  ``app/service/event_input.py``.
"""
from __future__ import annotations

import math
import re
from typing import Any, Dict, Optional, Union

NUMBER_FIELDS = ("txn_amount", "score", "level", "badge", "currency_balance", "offer_price")
FLAG_FIELDS = ("won", "offer_purchased", "offer_dismissed")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")
_TRUE, _FALSE = ("true", "1"), ("false", "0")

Value = Union[str, float, int, bool, None]


class BadValue(ValueError):
    """A field's value cannot be read; ``str(error)`` is the reason given back to the client."""


def is_unset(value: Any) -> bool:
    """None, or a string with nothing but spaces in it."""
    return value is None or (isinstance(value, str) and not value.strip())


def number(name: str, value: Any) -> Union[int, float]:
    """A finite number from a JSON number or a decimal string; an integer stays an integer."""
    if isinstance(value, bool):
        raise BadValue(f"{name} must be a number")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            raise BadValue(f"{name} must be a number, e.g. 4.99 or \"4.99\" (got {value[:40]!r})")
        value = int(text) if text.lstrip("+-").isdigit() else float(text)
    if isinstance(value, int):
        return value
    if not isinstance(value, float) or not math.isfinite(value):
        raise BadValue(f"{name} must be a number")
    return value


def flag(name: str, value: Any) -> bool:
    """A boolean from true/false, 1/0 or those written as strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    shown = repr(value[:40]) if isinstance(value, str) else str(value)[:40]
    raise BadValue(f"{name} must be true or false (also 1/0, \"true\"/\"false\", \"1\"/\"0\"), not {shown}")


def read_value(name: str, value: Any) -> Value:
    """The value of one field as stored: unset fields are None, known fields typed, others as sent."""
    if is_unset(value):
        return None
    if name in NUMBER_FIELDS:
        return number(name, value)
    if name in FLAG_FIELDS:
        return flag(name, value)
    return value


def read_fields(fields: Dict[str, Any]) -> Dict[str, Value]:
    """Every set field, read by ``read_value`` (unset ones are left out)."""
    read: Dict[str, Value] = {}
    for name, value in fields.items():
        typed = read_value(name, value)
        if typed is not None:
            read[name] = typed
    return read


def as_float(value: Optional[Union[int, float]]) -> Optional[float]:
    return None if value is None else float(value)
