"""Holdout assignment: which requests get a uniform random creative instead of the bandit's.

A slot's holdout share h (0..1) sends a share h of its customers to the holdout group, where the
creative is drawn uniformly among the K eligible ones (propensity 1 / K). Comparing the
click-through of both groups measures what the bandit adds (see bandit.lift).

With a customer id the assignment is stable: the customer is in the holdout when

    u = int(blake2b(tenant, platform, slot_id, customer_id)[:8]) / 2^64  <  h,

so u is uniform on [0, 1) over customers and the same customer always lands in the same group
of a slot. Without a customer id every request draws u afresh.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["HOLDOUT", "holdout_point", "in_holdout", "uniform_choice"]

HOLDOUT = "holdout"
_SEPARATOR = b"\x1f"  # unit separator: ("a", "bc") and ("ab", "c") hash differently


def holdout_point(tenant: str, platform: str, slot_id: str, customer_id: str) -> float:
    """The customer's stable point u in [0, 1) for one slot (first 64 bits of a BLAKE2b digest)."""
    key = _SEPARATOR.join(part.encode("utf-8", "surrogatepass") for part in (tenant, platform, slot_id, customer_id))
    digest = hashlib.blake2b(key, digest_size=8, person=b"sb-holdout").digest()
    return int.from_bytes(digest, "big") / 2.0**64


def in_holdout(
    share: float,
    tenant: str,
    platform: str,
    slot_id: str,
    customer_id: str | None,
    rng: np.random.Generator,
) -> bool:
    """True when this request belongs to the slot's holdout group.

    share <= 0 is never, share >= 1 always; in between, stable per customer id, or one uniform
    draw from rng per request when there is no customer id.
    """
    if share <= 0.0:
        return False
    if share >= 1.0:
        return True
    if customer_id:
        return holdout_point(tenant, platform, slot_id, customer_id) < share
    return float(rng.random()) < share


def uniform_choice(n_choices: int, rng: np.random.Generator) -> tuple[int, float]:
    """An index drawn uniformly from range(n_choices), with its propensity 1 / n_choices."""
    if n_choices < 1:
        raise ValueError(f"n_choices must be >= 1, but {n_choices} is given")
    return int(rng.integers(n_choices)), 1.0 / n_choices
