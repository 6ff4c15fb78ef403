"""A logged bandit feedback data set: what was shown, with which probability, and what it earned.

Row i holds a context x_i (a segment such as "city:pune", or "global"), the action a_i that the
logging policy chose, its propensity p_i = P(a_i | x_i) under that policy, and the reward r_i
(1 for a click, 0 otherwise; any real number works for the estimators).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["GLOBAL_CONTEXT", "BanditLog"]

GLOBAL_CONTEXT = "global"


@dataclass(frozen=True)
class BanditLog:
    """Columns of a log, validated: one entry per decision.

    actions, contexts: strings; rewards: finite numbers; propensities: in (0, 1].
    """

    actions: np.ndarray
    rewards: np.ndarray
    propensities: np.ndarray
    contexts: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.actions)
        for name in ("rewards", "propensities", "contexts"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must hold one entry per action ({n}), but {len(getattr(self, name))} is given")
        if n == 0:
            raise ValueError("a log must hold at least one row, but 0 rows are given")
        if not np.all(np.isfinite(self.rewards)):
            raise ValueError("rewards must be finite numbers")
        bad = ~((self.propensities > 0.0) & (self.propensities <= 1.0))
        if bad.any():
            raise ValueError(f"propensities must be in (0, 1], but {int(bad.sum())} rows are not")

    @classmethod
    def from_columns(
        cls,
        actions: Sequence[str],
        rewards: Iterable[float],
        propensities: Iterable[float],
        contexts: Sequence[str] | None = None,
    ) -> BanditLog:
        """A log from plain columns; no contexts means every row is in "global"."""
        actions_array = np.asarray([str(a) for a in actions], dtype=object)
        if contexts is None:
            contexts_array = np.full(len(actions_array), GLOBAL_CONTEXT, dtype=object)
        else:
            contexts_array = np.asarray([str(c) if c else GLOBAL_CONTEXT for c in contexts], dtype=object)
        return cls(
            actions=actions_array,
            rewards=np.asarray(list(rewards), dtype=float),
            propensities=np.asarray(list(propensities), dtype=float),
            contexts=contexts_array,
        )

    @property
    def n(self) -> int:
        return len(self.actions)

    def action_space(self, extra: Iterable[str] = ()) -> tuple[str, ...]:
        """Every logged action and the extra ones, sorted: the columns of a policy's matrix."""
        return tuple(sorted(set(self.actions.tolist()) | set(extra)))

    def action_indices(self, action_space: Sequence[str]) -> np.ndarray:
        """Index of each row's logged action in action_space."""
        position = {action: i for i, action in enumerate(action_space)}
        return np.array([position[a] for a in self.actions], dtype=int)

    def context_indices(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The distinct contexts (sorted) and each row's index among them."""
        names, inverse = np.unique(self.contexts.astype(str), return_inverse=True)
        return tuple(names.tolist()), inverse.reshape(-1)
