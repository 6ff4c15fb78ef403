"""GET /customer/<id>/features: the user features of one customer, read in a few milliseconds.

One single-row read gives the customer's "latest" values (kept current on ingestion, see
``app/storage/customers.py``); then, in parallel, the money events of the last week (one or two
month partitions, a clustering range) and the games of the last session (one partition).
The arithmetic is ``bandit.features``: the same definitions the reference computation uses.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from app.storage.customers import CustomerStore, rows_of
from bandit.features import assemble, purchase_amount, session_summary, week_window


def customer_features(store: CustomerStore, tenant: str, customer_id: str) -> Optional[Dict[str, Any]]:
    """The features of ``customer_id`` of ``tenant``; None for a customer without events."""
    row = store.feature_row(tenant, customer_id)
    if row is None:
        return None
    start, end = week_window(row.latest_event_time)
    payments = store.purchases_async(tenant, customer_id, start, end)
    games = store.session_games_async(tenant, customer_id, row.last_game_session) if row.last_game_session else None
    amount = purchase_amount(r["txn_amount"] or 0.0 for r in rows_of(payments) if r["event"] == "purchase")
    played, ratio = session_summary([bool(r["won"]) for r in rows_of([games])]) if games else (0, None)
    return assemble(row.country, row.signin_method, amount, played, ratio)
