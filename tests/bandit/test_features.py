"""bandit.features: the definitions of the user features on hand-built histories (exact numbers)."""
from datetime import datetime, timedelta, timezone

from bandit.features import FeatureEvent, features_at, purchase_amount, session_summary, week_window

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)


def e(hours, event, session="s1", **fields):
    return FeatureEvent(time=T0 + timedelta(hours=hours), event=event, session_id=session, **fields)


HISTORY = [
    e(0, "app_launched", country="DE", signin_method="facebook"),
    e(1, "purchase", txn_amount=4.99),
    e(2, "game_end", won=True),
    e(24, "app_launched", session="s2", signin_method="guest"),  # no country: DE stays
    e(25, "game_end", session="s2", won=True),
    e(26, "game_end", session="s2", won=False),
    e(27, "game_end", session="s2", won=True),
    e(28, "purchase", session="s2", txn_amount=4.99),
    e(29, "refund", session="s2", txn_amount=4.99),
]


def test_hand_built_history():
    assert features_at(HISTORY) == {
        "country": "DE", "facebook_connected": False, "last_week.purchase_amount": 9.98,
        "last_session.games_played": 3, "last_session.win_ratio": 0.67,
    }


def test_nothing_after_as_of_is_used():
    # As of hour 3 the guest launch, session s2 and the second purchase have not happened yet.
    assert features_at(HISTORY, as_of=T0 + timedelta(hours=3)) == {
        "country": "DE", "facebook_connected": True, "last_week.purchase_amount": 4.99,
        "last_session.games_played": 1, "last_session.win_ratio": 1.0,
    }
    # As of 25.5 h, s2 holds one finished game; the game_ends at 26 and 27 h are in its future.
    partial = features_at(HISTORY, as_of=T0 + timedelta(hours=25.5))
    assert (partial["last_session.games_played"], partial["last_session.win_ratio"]) == (1, 1.0)
    assert features_at(HISTORY, as_of=T0 - timedelta(seconds=1)) is None
    # Adding any event after as_of never changes the answer.
    later = HISTORY + [e(30, "purchase", txn_amount=100.0), e(31, "app_launched", country="FR",
                                                               signin_method="facebook")]
    for hours in (0, 1.5, 24, 28.5, 29):
        as_of = T0 + timedelta(hours=hours)
        assert features_at(later, as_of=as_of) == features_at(HISTORY, as_of=as_of)


def test_week_window_is_half_open_at_seven_days():
    start, end = week_window(T0)
    assert (start, end) == (T0 - timedelta(days=7), T0)
    history = [e(-7 * 24, "purchase", txn_amount=1.0), e(-7 * 24 + 0.001, "purchase", txn_amount=2.0),
               e(0, "purchase", txn_amount=4.0)]
    assert features_at(history)["last_week.purchase_amount"] == 6.0


def test_latest_session_is_the_one_of_the_latest_game_end():
    history = [e(1, "game_end", session="a", won=True), e(5, "game_end", session="b", won=False),
               e(6, "game_start", session="a"), e(2, "game_end", session="a", won=True)]
    got = features_at(history)
    assert (got["last_session.games_played"], got["last_session.win_ratio"]) == (1, 0.0)


def test_sums_and_ratios_are_rounded_as_documented():
    assert purchase_amount([0.1, 0.2]) == 0.3
    assert purchase_amount([]) == 0.0
    assert session_summary([]) == (0, None)
    assert session_summary([True, False, False]) == (3, 0.33)
    assert session_summary([True, True, False]) == (3, 0.67)


def test_ties_go_to_the_larger_value_like_cassandra():
    history = [e(1, "app_launched", country="AT", signin_method="facebook"),
               e(1, "app_launched", country="DE", signin_method="guest")]
    got = features_at(history)
    assert (got["country"], got["facebook_connected"]) == ("DE", False)  # "guest" > "facebook"
