"""User features of a customer from the customer's own events: pure arithmetic, no storage.

The definitions (the service keeps them current as events arrive; see ``app/service/customer_features.py``):

* reference time *r*: ``as_of`` if given, else the time of the customer's latest event;
  only events with time ≤ *r* are ever looked at, so nothing from after *r* leaks in.
* ``country``: the country of the latest ``app_launched`` that carried one.
* ``facebook_connected``: the latest ``app_launched`` has ``signin_method`` "facebook".
* ``last_week.purchase_amount``: Σ txn_amount of ``purchase`` events with time in (r − 7 days, r],
  rounded to cents. Refunds and cancellations do not reduce it.
* ``last_session``: the session of the latest ``game_end``; ``games_played`` is its number of
  ``game_end`` events (up to *r*), ``win_ratio`` = wins / games_played rounded to 2 decimals
  (null without a finished game).

Ties (two events at the same millisecond) go to the larger value, as Cassandra resolves them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

WEEK = timedelta(days=7)
FACEBOOK = "facebook"


@dataclass(frozen=True)
class FeatureEvent:
    """The parts of one event that features read. ``time`` is timezone-aware."""

    time: datetime
    event: str
    session_id: str
    txn_amount: Optional[float] = None
    won: Optional[bool] = None
    country: Optional[str] = None
    signin_method: Optional[str] = None


def week_window(reference: datetime) -> Tuple[datetime, datetime]:
    """The last_week window (start, end]: the 7 days up to and including ``reference``."""
    return reference - WEEK, reference


def purchase_amount(amounts: Iterable[float]) -> float:
    """Σ amounts, rounded to cents (money is reported as 2-decimal numbers)."""
    return round(sum(amounts), 2)


def session_summary(wins: Sequence[bool]) -> Tuple[int, Optional[float]]:
    """(games played, win ratio) of one session from the ``won`` flag of each finished game.

    win ratio = Σ won / n, rounded to 2 decimals; None when no game was played.
    """
    games = len(wins)
    if games == 0:
        return 0, None
    return games, round(sum(1 for won in wins if won) / games, 2)


def is_facebook(signin_method: Optional[str]) -> bool:
    return (signin_method or "").strip().lower() == FACEBOOK


def assemble(country: Optional[str], signin_method: Optional[str], amount: float, games: int,
             win_ratio: Optional[float]) -> Dict[str, object]:
    """The feature dictionary in the order of the public answer."""
    return {
        "country": country,
        "facebook_connected": is_facebook(signin_method),
        "last_week.purchase_amount": amount,
        "last_session.games_played": games,
        "last_session.win_ratio": win_ratio,
    }


def features_at(events: Iterable[FeatureEvent], as_of: Optional[datetime] = None) -> Optional[Dict[str, object]]:
    """The features of one customer's (de-duplicated) events as of ``as_of`` (default: the latest event).

    None when the customer has no event up to the reference time.
    """
    seen: List[FeatureEvent] = [e for e in events if as_of is None or e.time <= as_of]
    if not seen:
        return None
    reference = max(e.time for e in seen)
    start, end = week_window(reference)
    launches = [e for e in seen if e.event == "app_launched"]
    with_country = [e for e in launches if e.country]
    country = _latest(with_country, lambda e: e.country)
    signin = _latest(launches, lambda e: e.signin_method or "")
    amount = purchase_amount(e.txn_amount or 0.0 for e in seen
                             if e.event == "purchase" and start < e.time <= end)
    games = [e for e in seen if e.event == "game_end"]
    session = _latest(games, lambda e: e.session_id)
    played, ratio = session_summary([bool(e.won) for e in games if e.session_id == session])
    return assemble(country, signin, amount, played, ratio)


def _latest(events: Sequence[FeatureEvent], value) -> Optional[str]:
    """The value of the latest event; at equal times the larger value (last-write-wins order)."""
    if not events:
        return None
    return max(((e.time, value(e)) for e in events))[1]
