"""Attribution on hand-built histories: every number is worked out by hand in the comments."""
import pytest

from bandit.attribution import DAY_S, Click, Label, Payment, attribute

H = 7 * DAY_S  # the default revenue horizon


def click(decision, issued, clicked=None, horizon=H):
    return Click(decision, issued, issued if clicked is None else clicked, horizon)


def buy(event_id, time, amount, sku="gems"):
    return Payment(event_id, "purchase", time, amount, sku)


def refund(event_id, time, amount=None, sku="gems", kind="refund"):
    return Payment(event_id, kind, time, amount, sku)


def test_a_purchase_after_one_click_goes_to_it_whole():
    labels = attribute([click("a", 0, 10)], [buy("p", 100, 4.99)], now=50)
    assert labels["a"] == Label("a", purchases=1.0, gross=4.99, gross_sq=pytest.approx(4.99 ** 2), final=False)
    assert labels["a"].revenue == pytest.approx(4.99)


def test_two_clicks_split_fifty_fifty():
    # A issued t=0 clicked t=1; B issued t=3 clicked t=4; purchase of 10 at t=5: 5 each.
    labels = attribute([click("A", 0, 1), click("B", 3, 4)], [buy("p", 5, 10.0)], now=6)
    for name in "AB":
        assert labels[name].purchases == 0.5
        assert labels[name].gross == 5.0
        assert labels[name].gross_sq == 50.0  # 0.5 x 10^2: the amount per purchase stays 10
        assert labels[name].revenue == 5.0


def test_three_clicks_split_in_thirds():
    labels = attribute([click(d, 0, 1) for d in "xyz"], [buy("p", 2, 9.0)], now=3)
    assert [labels[d].gross for d in "xyz"] == [pytest.approx(3.0)] * 3
    assert sum(label.purchases for label in labels.values()) == pytest.approx(1.0)


def test_a_purchase_before_the_click_or_after_the_window_joins_nothing():
    clicks = [click("early", 0, 100)]
    labels = attribute(clicks, [buy("before", 50, 5.0), buy("late", H + 1, 5.0, sku="other")], now=2 * H)
    assert labels["early"] == Label("early", final=True)


def test_an_unclicked_decision_gets_no_label_and_other_customers_do_not_mix():
    assert attribute([], [buy("p", 5, 10.0)], now=10) == {}


def test_refund_subtracts_and_sets_the_refunded_share():
    # Purchase 20 at t=5 split over two clicks, half refunded at t=8: each decision 10 gross, 5 back.
    labels = attribute([click("A", 0, 1), click("B", 2, 3)], [buy("p", 5, 20.0), refund("r", 8, 10.0)], now=9)
    for name in "AB":
        assert labels[name].gross == 10.0
        assert labels[name].refunded == 5.0
        assert labels[name].revenue == 5.0
        assert labels[name].refunds == 0.25  # credit 0.5 x refunded share 0.5


def test_a_cancellation_without_amount_takes_the_whole_purchase_back():
    labels = attribute([click("A", 0, 1)], [buy("p", 5, 7.5), refund("c", 6, None, kind="cancellation")], now=7)
    assert labels["A"].revenue == 0.0
    assert labels["A"].refunds == 1.0
    assert labels["A"].purchases == 1.0  # the purchase happened; p(refund | purchase) carries the loss


def test_refunds_are_capped_and_match_the_latest_purchase_of_their_sku():
    payments = [
        buy("gems", 5, 10.0, sku="gems"),
        buy("coins", 6, 3.0, sku="coins"),
        refund("r1", 7, 100.0, sku="gems"),   # capped at 10
        refund("r2", 8, 1.0, sku="gems"),     # nothing left of the gems purchase: no effect
    ]
    labels = attribute([click("A", 0, 1)], payments, now=9)
    assert labels["A"].gross == 13.0
    assert labels["A"].refunded == 10.0
    assert labels["A"].revenue == 3.0
    # per sequence: gems refunded share 1.0, coins 0.0
    assert labels["A"].refunds == 1.0
    assert labels["A"].purchases == 2.0
    assert labels["A"].gross_sq == 10.0 ** 2 + 3.0 ** 2


def test_a_refund_of_an_unattributed_purchase_touches_no_label():
    payments = [buy("free", 0, 5.0), buy("paid", 20, 5.0, sku="pack"), refund("r", 30, None, sku="gems")]
    labels = attribute([click("A", 10, 11)], payments, now=40)
    assert labels["A"].gross == 5.0 and labels["A"].refunded == 0.0


def test_repeat_purchases_join_the_original_for_90_days():
    horizon = 200 * DAY_S
    clicks = [click("A", 0, 1, horizon=horizon), click("B", 10 * DAY_S, 10 * DAY_S + 1, horizon=horizon)]
    payments = [
        buy("p0", 5, 4.0),                 # original: joins A only (B not clicked yet)
        buy("p1", 20 * DAY_S, 4.0),        # repeat: joins the original (A), not B, though B was clicked
        buy("p2", 90 * DAY_S + 5, 4.0),    # exactly 90 days after the original: still a repeat
        buy("p3", 91 * DAY_S, 4.0),        # after 90 days: a new sequence, split over A and B (both open)
    ]
    labels = attribute(clicks, payments, now=horizon + 11 * DAY_S)
    # A: the first sequence (4 + 4 + 4 = 12, credit 1) and half of the new one (credit 0.5 x 4).
    assert labels["A"].gross == 14.0 and labels["A"].purchases == 1.5
    assert labels["A"].gross_sq == 12.0 ** 2 + 0.5 * 4.0 ** 2
    assert labels["B"].gross == 2.0 and labels["B"].purchases == 0.5
    assert labels["A"].final and labels["B"].final


def test_only_payments_inside_the_horizon_count_for_a_decision():
    # A (issued 0) and B (issued 3 days) share a purchase at 4 days; a repeat at 8 days is outside
    # A's 7-day window but inside B's; so is a refund of it at 9 days.
    clicks = [click("A", 0, 1), click("B", 3 * DAY_S, 3 * DAY_S + 1)]
    payments = [buy("p", 4 * DAY_S, 10.0), buy("again", 8 * DAY_S, 10.0), refund("r", 9 * DAY_S, 4.0)]
    labels = attribute(clicks, payments, now=9 * DAY_S)
    assert labels["A"].gross == 5.0 and labels["A"].refunded == 0.0
    assert labels["B"].gross == 10.0 and labels["B"].refunded == 2.0
    assert labels["B"].refunds == pytest.approx(0.5 * 4.0 / 20.0)
    assert labels["A"].final and not labels["B"].final


def test_labels_turn_final_when_the_observation_window_closes():
    clicks = [click("A", 0, 1)]
    assert not attribute(clicks, [], now=H - 1)["A"].final
    assert attribute(clicks, [], now=H)["A"].final


def test_the_answer_does_not_depend_on_arrival_order():
    clicks = [click("A", 0, 1), click("B", 2, 3), click("A", 0, 9)]  # A clicked twice: first counts
    payments = [buy("p", 5, 20.0), refund("r", 8, 10.0), buy("q", 6, 1.0, sku="x"), refund("s", 7, sku="x")]
    forward = attribute(clicks, payments, now=10)
    backward = attribute(list(reversed(clicks)), list(reversed(payments)), now=10)
    assert forward == backward
    assert sum(label.revenue for label in forward.values()) == pytest.approx(10.0)


def test_bad_payments_are_refused():
    with pytest.raises(ValueError, match="kind"):
        Payment("x", "gift", 0, 1.0)
    with pytest.raises(ValueError, match="needs an amount"):
        Payment("x", "purchase", 0, None)
    with pytest.raises(ValueError, match=">= 0"):
        Payment("x", "refund", 0, -1.0)
