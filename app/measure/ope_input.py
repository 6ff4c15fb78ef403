"""Reading what ``slotbandit ope`` evaluates: the log (CSV or Parquet), a priors file, a policy SPEC.

Log columns: ``action``, ``reward``, ``propensity`` (required); ``segment`` (the context; absent or
empty = "global"), ``position``, ``timestamp`` (optional); any other column is ignored. Rows whose
propensity is not a number in (0, 1] or whose reward is not a finite number are left out and counted.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bandit.ope import BanditLog, CandidatePolicy, FixedCandidate, MostPopularCandidate, ThompsonCandidate, \
    UniformCandidate

REQUIRED_COLUMNS = ("action", "reward", "propensity")
PARQUET_SUFFIXES = (".parquet", ".pq")
SPEC_HELP = "uniform, most_popular, fixed:ACTION, thompson, thompson:priors=FILE (optionally ,strength=S)"


class OpeInputError(Exception):
    """A log, priors file or SPEC that cannot be used; the message is one line for the operator."""


@dataclass
class LoadedLog:
    """The usable rows as a BanditLog, and how many rows were left out and why."""

    log: Optional[BanditLog]
    rows_read: int
    bad_propensity: int = 0
    bad_reward: int = 0
    warnings: List[str] = field(default_factory=list)


def read_columns(path: Path) -> Dict[str, list]:
    """The file's columns as lists of values (CSV: strings; Parquet: native values)."""
    if not path.is_file():
        raise OpeInputError(f"log file {path} does not exist")
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return _read_parquet(path)
        return _read_csv(path)
    except OpeInputError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as error:
        raise OpeInputError(f"cannot read log file {path}: {str(error).splitlines()[0] if str(error) else error!r}")


def _read_csv(path: Path) -> Dict[str, list]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise OpeInputError(f"log file {path} is empty: it needs a header line with {', '.join(REQUIRED_COLUMNS)}")
        names = [n.strip() for n in reader.fieldnames]
        columns: Dict[str, list] = {name: [] for name in names}
        for row in reader:
            for raw_name, name in zip(reader.fieldnames, names):
                columns[name].append(row.get(raw_name))
    return columns


def _read_parquet(path: Path) -> Dict[str, list]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise OpeInputError("reading Parquet needs pyarrow: pip install 'slotbandit[parquet]'") from None
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises its own error types for corrupt files
        raise OpeInputError(f"cannot read Parquet file {path}: {str(error).splitlines()[0]}") from None
    return {name: table.column(name).to_pylist() for name in table.column_names}


def load_log(path: Path) -> LoadedLog:
    """Read and validate a log; rows with bad propensities or rewards are counted, never used."""
    columns = read_columns(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise OpeInputError(f"log file {path} lacks the column(s) {', '.join(missing)} "
                            f"(required: {', '.join(REQUIRED_COLUMNS)})")
    n = len(columns["action"])
    segments = columns.get("segment") or [None] * n
    actions, rewards, propensities, contexts = [], [], [], []
    loaded = LoadedLog(log=None, rows_read=n)
    for action, reward, propensity, segment in zip(columns["action"], columns["reward"], columns["propensity"],
                                                   segments):
        p = _number(propensity)
        if p is None or not 0.0 < p <= 1.0:
            loaded.bad_propensity += 1
            continue
        r = float(reward) if isinstance(reward, bool) else _number(reward)  # Parquet may hold clicks as booleans
        if r is None or action in (None, ""):
            loaded.bad_reward += 1
            continue
        actions.append(str(action))
        rewards.append(r)
        propensities.append(p)
        contexts.append(str(segment) if segment not in (None, "") else None)
    if loaded.bad_propensity:
        loaded.warnings.append(f"rejected {loaded.bad_propensity} of {n} rows whose propensity is not a number "
                               "in (0, 1]")
    if loaded.bad_reward:
        loaded.warnings.append(f"rejected {loaded.bad_reward} of {n} rows without an action or a numeric reward")
    if actions:
        loaded.log = BanditLog.from_columns(actions, rewards, propensities, contexts)
    return loaded


def _number(value) -> Optional[float]:
    """A finite float, or None for empty, non-numeric, NaN or infinite values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def read_priors(path: Path) -> Dict[str, Tuple[float, float]]:
    """{action: (alpha, beta)} from a CSV with columns action, alpha, beta (both > 0)."""
    columns = read_columns(path) if path.is_file() else None
    if columns is None:
        raise OpeInputError(f"priors file {path} does not exist")
    missing = [c for c in ("action", "alpha", "beta") if c not in columns]
    if missing:
        raise OpeInputError(f"priors file {path} lacks the column(s) {', '.join(missing)} (needs action, alpha, beta)")
    priors = {}
    for line, (action, alpha, beta) in enumerate(zip(columns["action"], columns["alpha"], columns["beta"]), start=2):
        a, b = _number(alpha), _number(beta)
        if not action or a is None or b is None or a <= 0 or b <= 0:
            raise OpeInputError(f"priors file {path}, row {line}: needs an action and alpha, beta > 0")
        priors[str(action)] = (a, b)
    return priors


def parse_spec(spec: str, seed: int) -> CandidatePolicy:
    """The candidate policy a SPEC names (see SPEC_HELP)."""
    name, _, options = spec.partition(":")
    if name == "uniform" and not options:
        return UniformCandidate()
    if name == "most_popular" and not options:
        return MostPopularCandidate()
    if name == "fixed":
        if not options:
            raise OpeInputError("policy fixed:ACTION needs an action, e.g. fixed:banner-03")
        return FixedCandidate(options)
    if name == "thompson":
        return _thompson(options, seed)
    raise OpeInputError(f"unknown policy {spec!r}: use one of {SPEC_HELP}")


def _thompson(options: str, seed: int) -> ThompsonCandidate:
    priors, strength = {}, None
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "priors" and value:
            priors = read_priors(Path(value))
        elif key == "strength" and _number(value) is not None and float(value) > 0:
            strength = float(value)
        else:
            raise OpeInputError(f"bad thompson option {option!r}: use priors=FILE or strength=S (a number > 0)")
    return ThompsonCandidate(priors=priors, strength=strength, seed=seed)
