"""Which decisions earned a customer's purchases: delayed, split, repeated and refunded revenue.

Pure arithmetic on one customer's clicks and payments; the service and the training export feed it
from storage. Times are seconds since the epoch.

The rules
---------
* **Join.** A purchase joins every decision the customer clicked before it whose window is still
  open: ``clicked_at <= purchase time <= issued_at + horizon_s``. Credit is split equally between
  them: two clicks get 0.5 each, three get 1/3 each. A purchase without such a click is not
  attributed (the customer would have bought anyway, as far as the slots know).
* **Repeat.** A later purchase of the same sku within ``repeat_window_s`` (90 days) of an attributed
  original purchase joins the original's decisions with the original's credit, whatever was clicked
  in between: the sequence is always anchored at its oldest purchase, so joins never chain. After the
  window a purchase of that sku starts afresh (it needs a click again).
* **Refunds and cancellations** subtract from the latest earlier purchase of the same sku (any sku
  when the refund names none) that still has an unrefunded amount; the amount is capped at what is
  left of it, and a refund without an amount takes all of it back.
* **Horizon.** A decision's label counts only payments up to ``issued_at + horizon_s``: a repeat or a
  refund after that belongs to no label of that decision.
* **Final.** The label keeps changing while payments can still land in its window; it is final once
  ``now >= issued_at + horizon_s`` (the minimum observation window has closed).

The label of a decision, summed over the purchase sequences that joined it (w = its credit, g = the
sequence's purchases within the horizon, r = the sequence's refunds within the horizon):
``purchases = Σ w``, ``gross = Σ w·g``, ``gross_sq = Σ w·g²``, ``refunded = Σ w·r``,
``refunds = Σ w·r/g`` (the refunded share) and ``revenue = gross - refunded``. These are the
sufficient statistics of the revenue objective's factors p(purchase | click), p(refund | purchase)
and E(revenue | purchase) (see bandit.policies.revenue).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["DAY_S", "REPEAT_WINDOW_S", "Click", "Label", "Payment", "attribute"]

DAY_S = 86_400
REPEAT_WINDOW_S = 90 * DAY_S
PAYMENT_KINDS = ("purchase", "refund", "cancellation")


@dataclass(frozen=True)
class Click:
    """A decision the customer clicked: when it was issued, when clicked, and its slot's horizon."""

    decision: str
    issued_at: float
    clicked_at: float
    horizon_s: float

    @property
    def window_end(self) -> float:
        return self.issued_at + self.horizon_s


@dataclass(frozen=True)
class Payment:
    """A purchase, refund or cancellation. ``amount`` None on a refund means the whole purchase."""

    event_id: str
    kind: str
    time: float
    amount: Optional[float]
    sku: Optional[str] = None

    def __post_init__(self) -> None:
        if self.kind not in PAYMENT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(PAYMENT_KINDS)}, but {self.kind!r} is given")
        if self.kind == "purchase" and self.amount is None:
            raise ValueError(f"purchase {self.event_id!r} needs an amount")
        if self.amount is not None and self.amount < 0:
            raise ValueError(f"amount must be >= 0, but {self.amount} is given for {self.event_id!r}")


@dataclass(frozen=True)
class Label:
    """What one decision earned so far (see the module docstring for each field)."""

    decision: str
    purchases: float = 0.0
    refunds: float = 0.0
    gross: float = 0.0
    gross_sq: float = 0.0
    refunded: float = 0.0
    final: bool = False

    @property
    def revenue(self) -> float:
        return self.gross - self.refunded


@dataclass
class _Sequence:
    """An attributed original purchase with its repeats and the refunds against them."""

    sku: Optional[str]
    started: float
    credited: Tuple[Click, ...]
    purchases: List[Tuple[float, float]] = field(default_factory=list)  # (time, amount)
    refunds: List[Tuple[float, float]] = field(default_factory=list)

    def within(self, end: float) -> Tuple[float, float]:
        """(purchased, refunded) amounts up to time end."""
        purchased = sum(amount for time, amount in self.purchases if time <= end)
        refunded = sum(amount for time, amount in self.refunds if time <= end)
        return purchased, min(refunded, purchased)


@dataclass
class _Purchase:
    event_id: str
    time: float
    sku: Optional[str]
    left: float
    sequence: Optional[_Sequence]


def attribute(
    clicks: Iterable[Click],
    payments: Iterable[Payment],
    now: float,
    repeat_window_s: float = REPEAT_WINDOW_S,
) -> Dict[str, Label]:
    """The label of every clicked decision, from one customer's clicks and payments.

    Every decision in clicks gets a label (zero when nothing joined it). A decision clicked twice
    counts its first click. Payments are taken in time order (purchases before refunds at the same
    instant, then by event id), so the answer does not depend on arrival order.
    """
    first_clicks = _first_click_per_decision(clicks)
    sequences = _sequences(first_clicks, payments, repeat_window_s)
    totals = {click.decision: [0.0, 0.0, 0.0, 0.0, 0.0] for click in first_clicks}
    for sequence in sequences:
        credit = 1.0 / len(sequence.credited)
        for click in sequence.credited:
            purchased, refunded = sequence.within(click.window_end)
            share = refunded / purchased if purchased > 0 else 0.0
            row = totals[click.decision]
            row[0] += credit
            row[1] += credit * share
            row[2] += credit * purchased
            row[3] += credit * purchased * purchased
            row[4] += credit * refunded
    return {
        click.decision: Label(click.decision, *totals[click.decision], final=now >= click.window_end)
        for click in first_clicks
    }


def _first_click_per_decision(clicks: Iterable[Click]) -> List[Click]:
    first: Dict[str, Click] = {}
    for click in clicks:
        known = first.get(click.decision)
        if known is None or click.clicked_at < known.clicked_at:
            first[click.decision] = click
    return sorted(first.values(), key=lambda c: (c.clicked_at, c.decision))


def _sequences(clicks: Sequence[Click], payments: Iterable[Payment], repeat_window_s: float) -> List[_Sequence]:
    """Replay the payments in time order into attributed purchase sequences."""
    ordered = sorted(payments, key=lambda p: (p.time, p.kind != "purchase", p.event_id))
    sequences: List[_Sequence] = []
    latest_by_sku: Dict[Optional[str], _Sequence] = {}
    purchases: List[_Purchase] = []
    for payment in ordered:
        if payment.kind == "purchase":
            sequence = latest_by_sku.get(payment.sku)
            if sequence is None or payment.time - sequence.started > repeat_window_s:
                joined = tuple(c for c in clicks if c.clicked_at <= payment.time <= c.window_end)
                sequence = _Sequence(payment.sku, payment.time, joined) if joined else None
                if sequence is not None:
                    sequences.append(sequence)
                    latest_by_sku[payment.sku] = sequence
            if sequence is not None:
                sequence.purchases.append((payment.time, payment.amount))
            purchases.append(_Purchase(payment.event_id, payment.time, payment.sku, payment.amount, sequence))
        else:
            _refund(purchases, payment)
    return sequences


def _refund(purchases: List[_Purchase], refund: Payment) -> None:
    """Take a refund off the latest earlier purchase of its sku that has something left."""
    for purchase in reversed(purchases):
        if purchase.left <= 0 or (refund.sku is not None and purchase.sku != refund.sku):
            continue
        amount = purchase.left if refund.amount is None else min(refund.amount, purchase.left)
        purchase.left -= amount
        if purchase.sequence is not None:
            purchase.sequence.refunds.append((refund.time, amount))
        return
