"""Argument checks shared by the dataclasses of the decision core.

Every message names the argument, the rule and the value given, for example
"max_strength must be >= min_strength, but 1.0 < 2.0 is given".
"""

from __future__ import annotations

import math
import numbers


def require_count(name: str, value: object) -> None:
    """A count: an integer >= 0 (booleans are not counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, but {value!r} is given")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, but {value} is given")


def require_positive(name: str, value: object) -> None:
    """A finite real number > 0."""
    _require_real(name, value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, but {float(value)} is given")


def require_positive_int(name: str, value: object) -> None:
    """An integer >= 1."""
    require_count(name, value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, but {value} is given")


def require_at_least(name: str, value: float, other_name: str, other: float) -> None:
    """value >= other, for two already checked numbers."""
    if value < other:
        raise ValueError(
            f"{name} must be >= {other_name}, but {float(value)} < {float(other)} is given"
        )


def require_probability_level(name: str, value: object) -> None:
    """A level strictly between 0 and 1, such as 0.95."""
    _require_real(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), but {float(value)} is given")


def _require_real(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, but {value!r} is given")
