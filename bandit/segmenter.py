"""Segments from user features: a shallow regression tree fitted on decision history.

Why a tree on per-offer revenue and not clustering: a segment is worth its own posteriors only when
its customers prefer a different offer. KMeans groups customers that *look* alike whether or not
they respond differently; a tree whose targets are each offer's revenue splits exactly where the
offers' revenues diverge, and its leaves read as rules ("country=DE & last_week.purchase_amount>9.5").

Targets (inverse propensity weighting, unbiased for the revenue offer *a* would earn)::

    y[i, a] = label_i · 1[offer_i = a] / propensity_i

A multi-output ``DecisionTreeRegressor`` (squared error, ``max_depth`` ≤ 3, ``min_samples_leaf``)
fits all offers at once, so a split must separate customers on the whole revenue profile.

Encoding of the five features (``bandit.features``): ``country`` becomes one indicator per frequent
country (at least ``min_leaf`` rows, at most ``max_countries``); ``facebook_connected`` is 0/1; the
three numbers are used as they are, a missing ``last_session.win_ratio`` (no finished game) as 0.

The model is plain JSON (never pickle): a nested rule tree plus a leaf table. ``segment_of`` walks it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

MODEL_VERSION = 1
COUNTRY = "country"
FACEBOOK = "facebook_connected"
NUMERIC = ("last_week.purchase_amount", "last_session.games_played", "last_session.win_ratio")
FEATURES = (COUNTRY, FACEBOOK) + NUMERIC
MAX_DEPTH = 3


class SegmenterError(ValueError):
    """Bad parameters or too little history; ``str(error)`` is one line for the operator."""


@dataclass(frozen=True)
class SegmenterConfig:
    max_depth: int = 2
    min_leaf: int = 50
    max_countries: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= MAX_DEPTH:
            raise SegmenterError(f"max_depth must be between 1 and {MAX_DEPTH}, but {self.max_depth} is given")
        if self.min_leaf < 1:
            raise SegmenterError(f"min_leaf must be a positive integer, but {self.min_leaf} is given")
        if self.max_countries < 0:
            raise SegmenterError(f"max_countries must be 0 or more, but {self.max_countries} is given")


def fit_segments(rows: Sequence[Mapping[str, Any]], config: SegmenterConfig = SegmenterConfig()) -> Dict[str, Any]:
    """The JSON model fitted on history rows.

    Each row has the five features, ``offer`` (the creative shown), ``propensity`` in (0, 1] and
    ``label`` (its revenue). Rows without features or with a propensity outside (0, 1] are skipped.
    """
    try:
        from sklearn.tree import DecisionTreeRegressor
    except ImportError:
        raise SegmenterError("fitting segments needs scikit-learn: pip install 'slotbandit[segments]'") from None
    usable = [r for r in rows if _usable(r)]
    if len(usable) < 2 * config.min_leaf:
        raise SegmenterError(f"{len(usable)} usable rows; at least 2 x min_leaf = {2 * config.min_leaf} are "
                             "needed (rows need features and a propensity in (0, 1])")
    offers = sorted({str(r["offer"]) for r in usable})
    countries = frequent_countries(usable, config.min_leaf, config.max_countries)
    columns = encoded_columns(countries)
    x = np.array([encode(r, countries) for r in usable], dtype=float)
    y = ips_targets(usable, offers)
    tree = DecisionTreeRegressor(max_depth=config.max_depth, min_samples_leaf=config.min_leaf,
                                 random_state=config.seed).fit(x, y)
    root = _export(tree.tree_, 0, columns, offers, [])
    return {
        "version": MODEL_VERSION,
        "kind": "tree",
        "offers": offers,
        "countries": countries,
        "params": {"max_depth": config.max_depth, "min_leaf": config.min_leaf, "max_countries": config.max_countries},
        "rows": len(usable),
        "tree": root,
        "leaves": leaves_of(root),
    }


def _usable(row: Mapping[str, Any]) -> bool:
    propensity = row.get("propensity")
    return (row.get(FACEBOOK) is not None and row.get("offer") is not None and propensity is not None
            and 0.0 < float(propensity) <= 1.0)


def frequent_countries(rows: Sequence[Mapping[str, Any]], min_rows: int, limit: int) -> List[str]:
    """Countries with at least ``min_rows`` rows, most frequent first (ties by name), at most ``limit``."""
    counts = Counter(r.get(COUNTRY) for r in rows if r.get(COUNTRY))
    ranked = sorted((c for c, n in counts.items() if n >= min_rows), key=lambda c: (-counts[c], c))
    return ranked[:limit]


def encoded_columns(countries: Sequence[str]) -> List[str]:
    return [FACEBOOK, *NUMERIC] + [f"{COUNTRY}={c}" for c in countries]


def encode(features: Mapping[str, Any], countries: Sequence[str]) -> List[float]:
    """The numeric vector of one customer's features (order of ``encoded_columns``)."""
    numbers = [float(features.get(name) or 0.0) for name in NUMERIC]
    return [1.0 if features.get(FACEBOOK) else 0.0, *numbers] + [
        1.0 if features.get(COUNTRY) == c else 0.0 for c in countries]


def ips_targets(rows: Sequence[Mapping[str, Any]], offers: Sequence[str]) -> np.ndarray:
    """y[i, a] = label_i · 1[offer_i = a] / propensity_i."""
    index = {offer: a for a, offer in enumerate(offers)}
    y = np.zeros((len(rows), len(offers)))
    for i, row in enumerate(rows):
        y[i, index[str(row["offer"])]] = float(row.get("label") or 0.0) / float(row["propensity"])
    return y


def _export(tree, node: int, columns: Sequence[str], offers: Sequence[str], path: List[str]) -> Dict[str, Any]:
    """The JSON of ``node``: a leaf, or a test with the child taken when it holds and the other one.

    Two sibling leaves with the same best offer are merged into their parent: a split that changes
    no decision only thins the data of each posterior."""
    left, right = int(tree.children_left[node]), int(tree.children_right[node])
    if left == -1:
        return _leaf(tree, node, offers, path)
    exported = _split(tree, node, columns, offers, path)
    yes, no = exported["then"], exported["else"]
    if "leaf" in yes and "leaf" in no and _best(yes["revenue_per_offer"]) == _best(no["revenue_per_offer"]):
        return _leaf(tree, node, offers, path)
    return exported


def _leaf(tree, node: int, offers: Sequence[str], path: List[str]) -> Dict[str, Any]:
    values = tree.value[node][:, 0]
    return {"leaf": f"n{node}", "name": " & ".join(path) or "all", "rows": int(tree.n_node_samples[node]),
            "revenue_per_offer": {o: round(float(v), 4) for o, v in zip(offers, values)}}


def _best(revenue: Mapping[str, float]) -> Optional[str]:
    """The offer with the highest revenue (ties: the first by name)."""
    return max(sorted(revenue), key=lambda o: revenue[o]) if revenue else None


def _split(tree, node: int, columns: Sequence[str], offers: Sequence[str], path: List[str]) -> Dict[str, Any]:
    """The test of an inner node and both children."""
    left, right = int(tree.children_left[node]), int(tree.children_right[node])
    column, threshold = columns[int(tree.feature[node])], float(tree.threshold[node])
    if column.startswith(f"{COUNTRY}="):  # indicator: > 0.5 (right) means the country matches
        country = column.split("=", 1)[1]
        test, yes, no = {"feature": COUNTRY, "is": country}, right, left
        said, unsaid = f"{COUNTRY}={country}", f"{COUNTRY}!={country}"
    elif column == FACEBOOK:
        test, yes, no = {"feature": FACEBOOK, "is": True}, right, left
        said, unsaid = f"{FACEBOOK}=true", f"{FACEBOOK}=false"
    else:  # numeric: <= threshold goes left
        test, yes, no = {"feature": column, "at_most": threshold}, left, right
        said, unsaid = f"{column}<={threshold:.4g}", f"{column}>{threshold:.4g}"
    return {"test": test, "then": _export(tree, yes, columns, offers, path + [said]),
            "else": _export(tree, no, columns, offers, path + [unsaid])}


def leaves_of(node: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The leaf table, left to right: id, rule name, rows, and the offer with the highest revenue."""
    if "leaf" in node:
        best = _best(node["revenue_per_offer"])
        return [{"id": node["leaf"], "name": node["name"], "rows": node["rows"], "best_offer": best}]
    return leaves_of(node["then"]) + leaves_of(node["else"])


def holds(test: Mapping[str, Any], features: Mapping[str, Any]) -> bool:
    """Whether one rule test holds for a customer's features (missing numbers count as 0)."""
    name = test["feature"]
    if "at_most" in test:
        return float(features.get(name) or 0.0) <= float(test["at_most"])
    if name == FACEBOOK:
        return bool(features.get(FACEBOOK)) == bool(test["is"])
    return features.get(name) == test["is"]


def segment_of(model: Mapping[str, Any], features: Mapping[str, Any]) -> str:
    """The leaf id of the customer with these features."""
    node = model["tree"]
    while "leaf" not in node:
        node = node["then"] if holds(node["test"], features) else node["else"]
    return node["leaf"]


def check_model(model: Any) -> Dict[str, Any]:
    """The model if it is a well-formed segment model, else SegmenterError saying what is wrong."""
    if not isinstance(model, dict) or model.get("version") != MODEL_VERSION or model.get("kind") != "tree":
        raise SegmenterError(f"not a version {MODEL_VERSION} tree segment model")
    stack = [model.get("tree")]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            raise SegmenterError("a tree node is not an object")
        if "leaf" in node:
            continue
        test = node.get("test")
        if not isinstance(test, dict) or test.get("feature") not in FEATURES or not ({"at_most", "is"} & set(test)):
            raise SegmenterError(f"bad test {test!r}")
        stack += [node.get("then"), node.get("else")]
    return model


def describe(model: Mapping[str, Any]) -> List[str]:
    """Readable lines: the rules as an indented tree, leaves with their rows and best offer."""
    lines: List[str] = []

    def walk(node: Mapping[str, Any], depth: int, prefix: str) -> None:
        pad = "  " * depth
        if "leaf" in node:
            best = next(l["best_offer"] for l in model["leaves"] if l["id"] == node["leaf"])
            lines.append(f"{pad}{prefix}-> feature:{node['leaf']} ({node['rows']} rows, best offer {best})")
            return
        lines.append(f"{pad}{prefix}if {_test_text(node['test'])}:")
        walk(node["then"], depth + 1, "")
        lines.append(f"{pad}else:")
        walk(node["else"], depth + 1, "")

    walk(model["tree"], 0, "")
    return lines


def _test_text(test: Mapping[str, Any]) -> str:
    if "at_most" in test:
        return f"{test['feature']} <= {float(test['at_most']):.4g}"
    value = "true" if test["is"] is True else test["is"]
    return f"{test['feature']} = {value}"


def leaf_table(model: Mapping[str, Any]) -> List[Tuple[str, int, Optional[str], str]]:
    """(segment, rows, best offer, rule) per leaf."""
    return [(f"feature:{l['id']}", l["rows"], l["best_offer"], l["name"]) for l in model["leaves"]]
