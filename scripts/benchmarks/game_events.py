"""Synthetic game histories in the raw shape of seed 000 (every value a string), for the events
benchmark: players with sessions of a launch, a few games, sometimes an offer and a purchase."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Dict, Iterator, List

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
COUNTRIES = ("DE", "FR", "IN", "BR", "US")
SIGNINS = ("facebook", "google", "")


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def session_events(rng: random.Random, customer: str, session: int, moment: datetime) -> List[Dict[str, str]]:
    """One session of one player, about 10 events, every value a string as the game sends it."""
    common = {"customer_identifier": customer, "session_id": f"{customer}-s{session}"}
    events = [{"country": rng.choice(COUNTRIES), "language": "DE", "signin_method": rng.choice(SIGNINS),
               "package_name": "my_app", "package_version": "1.0", "os": "Android", "os_version": "6.4.5",
               "device_type": "phone", "device_make": "Acer", "device_model": "BlackBerry 10 Z30",
               "device_id": f"dev-{customer}", "event_id": "app_launched", "event_time": _time(moment), **common}]
    balance = rng.randrange(1000, 5000)
    for game in range(rng.randrange(2, 5)):
        moment += timedelta(seconds=rng.randrange(5, 60), milliseconds=rng.randrange(1000))
        events.append({"event_id": "game_start", "event_time": _time(moment), **common,
                       "currency_balance": str(balance), "level": str(game + 1)})
        moment += timedelta(seconds=rng.randrange(30, 300), milliseconds=rng.randrange(1000))
        balance += rng.randrange(0, 600)
        events.append({"event_id": "game_end", "event_time": _time(moment), **common,
                       "currency_balance": str(balance), "level": str(game + 1), "score": str(rng.randrange(10000)),
                       "badge": str(rng.randrange(5)), "won": rng.choice(("1", "0"))})
    if rng.random() < 0.5:
        moment += timedelta(seconds=rng.randrange(1, 30))
        bought = rng.random() < 0.3
        events.append({"event_id": "offer_shown", "event_time": _time(moment), **common,
                       "currency_balance": str(balance), "offer_type": rng.choice(("xmas", "starter", "vip")),
                       "offer_price": rng.choice(("0.99", "4.99", "9.99")),
                       "offer_purchased": "true" if bought else "false",
                       "offer_dismissed": "false" if bought else "true"})
    if rng.random() < 0.3:
        moment += timedelta(seconds=rng.randrange(1, 30))
        events.append({"event_id": "purchase", "event_time": _time(moment), **common,
                       "currency_balance": str(balance), "sku": "coins-pack-4",
                       "txn_amount": rng.choice(("0.99", "4.99", "9.99")), "purchase_source": "shop"})
    return events


def game_history(seed: int, customers: int, sessions: int, prefix: str = "p",
                 days: int = 28) -> Iterator[Dict[str, str]]:
    """``sessions`` sessions of each of ``customers`` players over ``days`` days, player after player."""
    rng = random.Random(seed)
    for number in range(customers):
        customer = f"{prefix}{number:07d}"
        for session in range(sessions):
            moment = START + timedelta(days=rng.randrange(days), seconds=rng.randrange(86400))
            yield from session_events(rng, customer, session, moment)
