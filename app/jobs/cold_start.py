"""Supervised cold start: predict the click rate of a (city, creative) pair that has no history.

A logistic regression on one-hot features

    city=<c>, tag=<t> for each tag in the creative's payload ("tags": [...]), dow=<0..6>

is fitted to the usable history cells (each cell is two weighted samples: clicks as 1,
impressions - clicks as 0). A new creative is described by its tags, so a banner tagged "sale"
starts near what "sale" banners did; an unknown city contributes no feature and gets the average
city. Predictions are averaged over the days of the week seen in the history. The predicted rate
becomes the mean of a weak prior (PriorConfig.cold_start_strength) in bandit.priors.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

import numpy as np

Cell = tuple  # (city or None, creative_id, dow or None, impressions, clicks)


def creative_tags(payload: Any) -> tuple[str, ...]:
    """Tags of a creative from its JSON payload: a list under "tags", or a comma-separated string."""
    if not isinstance(payload, Mapping):
        return ()
    tags = payload.get("tags")
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, (list, tuple)):
        return ()
    return tuple(sorted({str(t).strip().lower() for t in tags if str(t).strip()}))


class ColdStartModel:
    """A click-rate model on (city, creative tags, day of week); see the module docstring."""

    def __init__(self, tags: Mapping[str, Sequence[str]]):
        self._tags = {cid: tuple(t) for cid, t in tags.items()}
        self._vectorizer = None
        self._model = None
        self._days: list[Optional[int]] = [None]
        self._city_weights: dict[str, float] = {}

    def fit(self, cells: Iterable[Cell]) -> "ColdStartModel":
        """Fit on the usable history cells; needs at least one click and one non-click."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        features, labels, weights, days, city_weights = [], [], [], set(), {}
        for city, creative_id, dow, impressions, clicks in cells:
            if impressions <= 0:
                continue
            row = self._features(city, creative_id, dow)
            for label, weight in ((1, clicks), (0, impressions - clicks)):
                if weight > 0:
                    features.append(row)
                    labels.append(label)
                    weights.append(float(weight))
            days.add(dow)
            if city is not None:
                city_weights[city] = city_weights.get(city, 0.0) + impressions
        if len(set(labels)) < 2:
            raise ValueError("the history needs at least one click and one impression without a click")
        self._vectorizer = DictVectorizer(sparse=False)
        matrix = self._vectorizer.fit_transform(features)
        self._model = LogisticRegression(C=1.0, max_iter=1000)
        self._model.fit(matrix, np.array(labels), sample_weight=np.array(weights))
        self._days = sorted((d for d in days if d is not None)) or [None]
        total = sum(city_weights.values())
        self._city_weights = {c: w / total for c, w in city_weights.items()} if total else {}
        return self

    def predict(self, city: Optional[str], creative_id: str) -> float:
        """P(click) of the pair, averaged over days of the week; city None: traffic-weighted over cities."""
        if self._model is None:
            raise RuntimeError("fit the model before predicting")
        if city is None and self._city_weights:
            return float(sum(w * self._predict_city(c, creative_id) for c, w in self._city_weights.items()))
        return self._predict_city(city, creative_id)

    def _predict_city(self, city: Optional[str], creative_id: str) -> float:
        rows = [self._features(city, creative_id, dow) for dow in self._days]
        return float(np.mean(self._model.predict_proba(self._vectorizer.transform(rows))[:, 1]))

    def _features(self, city: Optional[str], creative_id: str, dow: Optional[int]) -> dict:
        row = {f"tag={t}": 1.0 for t in self._tags.get(creative_id, ())}
        if city is not None:
            row[f"city={city}"] = 1.0
        if dow is not None:
            row[f"dow={dow}"] = 1.0
        return row
