"""A game's players and in-app offers with known tastes: the world of the game simulator.

Players have features (country, facebook_connected, spend level). The spend level decides the
segment a player falls in ("segment:casual", "segment:regular", "segment:whale"), and the best
offer differs by segment. For a player of segment s shown offer o:

    click             Bernoulli(ctr_o x facebook lift)
    purchase | click  Bernoulli(purchase_{s,o} x country factor), some hours to days later
    refund | purchase Bernoulli(refund_o), the whole amount, 1 to 3 days after the purchase
    repeat | purchase Bernoulli(repeat_{s,o}), the same sku again 1 to 4 days later

so the net value of one impression is

    ctr x purchase x (price x (1 + repeat) - price x refund)

(refunds are taken against the original purchase). Every visit carries its own uniform numbers
(Visit.uniforms), drawn once from the world's seed, so policies compared on one seed meet the
same players at the same times with the same luck: only their choices differ.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bandit.attribution import DAY_S, Payment

__all__ = [
    "Customer",
    "GameWorld",
    "Offer",
    "Outcome",
    "Visit",
    "game_world",
    "make_customers",
    "make_visits",
]

HOUR_S = 3_600
# Uniform numbers per visit: click, purchase, purchase delay, refund, refund delay, repeat,
# repeat delay.
UNIFORMS_PER_VISIT = 7


@dataclass(frozen=True)
class Offer:
    """An in-app offer: a creative with an offer type and a price."""

    creative_id: str
    offer_type: str
    price: float


@dataclass(frozen=True)
class Customer:
    """A player: features the service sees, and the spend level that sets the segment."""

    customer_id: str
    country: str
    facebook_connected: bool
    spend_level: str

    @property
    def segment(self) -> str:
        return f"segment:{self.spend_level}"


@dataclass(frozen=True)
class Visit:
    """A player opens the game at time (seconds from the start) and is shown one offer."""

    time: float
    customer: int
    uniforms: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """What one impression brought: a click, and the payments that follow it."""

    clicked: bool
    payments: tuple[Payment, ...] = ()


@dataclass(frozen=True)
class GameWorld:
    """Offers, players' make-up and their tastes.

    offers: the creatives of the slot.
    spend_shares: spend level -> share of players.
    visits_per_day: spend level -> mean visits per day (Poisson).
    ctr: offer -> click rate.
    purchase: spend level -> offer -> purchase rate after a click.
    refund: offer -> refund rate after a purchase.
    repeat: spend level -> offer -> rate of one repeat purchase.
    country_factor: country -> multiplier of the purchase rate (its share of players follows
        country_shares).
    facebook_lift: click rate multiplier of players signed in with Facebook.
    purchase_delay_h: mean delay from click to purchase, hours (exponential).
    """

    offers: tuple[Offer, ...]
    spend_shares: Mapping[str, float]
    visits_per_day: Mapping[str, float]
    ctr: Mapping[str, float]
    purchase: Mapping[str, Mapping[str, float]]
    refund: Mapping[str, float]
    repeat: Mapping[str, Mapping[str, float]]
    country_shares: Mapping[str, float]
    country_factor: Mapping[str, float]
    facebook_share: float = 0.4
    facebook_lift: float = 1.2
    purchase_delay_h: float = 12.0

    def __post_init__(self) -> None:
        ids = [o.creative_id for o in self.offers]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError(f"offers must have distinct creative ids, but {ids} is given")
        for level in self.spend_shares:
            for offer in ids:
                for name, table in (("purchase", self.purchase), ("repeat", self.repeat)):
                    rate = table.get(level, {}).get(offer)
                    if rate is None or not 0.0 <= rate <= 1.0:
                        raise ValueError(
                            f"{name}[{level!r}][{offer!r}] must be in [0, 1], but {rate!r} is given"
                        )

    @property
    def creative_ids(self) -> tuple[str, ...]:
        return tuple(o.creative_id for o in self.offers)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(f"segment:{level}" for level in self.spend_shares)

    def prices(self) -> dict[str, float]:
        return {o.creative_id: o.price for o in self.offers}

    def offer(self, creative_id: str) -> Offer:
        return next(o for o in self.offers if o.creative_id == creative_id)

    def expected_value(self, customer: Customer, creative_id: str) -> float:
        """Net revenue one impression is expected to bring (no cut-off by the end of a run)."""
        p_click, p_buy, p_refund, p_repeat = self._rates(customer, creative_id)
        price = self.offer(creative_id).price
        return p_click * p_buy * price * (1.0 + p_repeat - p_refund)

    def outcome(
        self, customer: Customer, creative_id: str, visit: Visit, decision: str
    ) -> Outcome:
        """The click and the payments (purchase, refund, repeat) of one impression."""
        p_click, p_buy, p_refund, p_repeat = self._rates(customer, creative_id)
        u = visit.uniforms
        if u[0] >= p_click:
            return Outcome(clicked=False)
        if u[1] >= p_buy:
            return Outcome(clicked=True)
        price = self.offer(creative_id).price
        bought = visit.time + 60.0 - np.log1p(-u[2]) * self.purchase_delay_h * HOUR_S
        payments = [Payment(f"{decision}-buy", "purchase", bought, price, creative_id)]
        if u[3] < p_refund:
            refunded = bought + (1.0 + 2.0 * u[4]) * DAY_S
            payments.append(Payment(f"{decision}-refund", "refund", refunded, price, creative_id))
        if u[5] < p_repeat:
            again = bought + (1.0 + 3.0 * u[6]) * DAY_S
            payments.append(Payment(f"{decision}-again", "purchase", again, price, creative_id))
        return Outcome(clicked=True, payments=tuple(payments))

    def _rates(self, customer: Customer, creative_id: str) -> tuple[float, float, float, float]:
        """(click, purchase | click, refund | purchase, repeat | purchase) for this player."""
        lift = self.facebook_lift if customer.facebook_connected else 1.0
        p_click = min(self.ctr[creative_id] * lift, 1.0)
        factor = self.country_factor.get(customer.country, 1.0)
        p_buy = min(self.purchase[customer.spend_level][creative_id] * factor, 1.0)
        p_repeat = self.repeat[customer.spend_level][creative_id]
        return p_click, p_buy, self.refund[creative_id], p_repeat


def game_world() -> GameWorld:
    """The default game: five offers, three spend levels, each with a different best offer.

    Net value per impression (ctr x purchase x price x (1 + repeat - refund), country and
    Facebook factors aside):

        offer          price   casual   regular   whale
        starter-pack    0.99   0.0261   0.0174   0.0087
        gem-bundle      4.99   0.0150   0.0824   0.0494
        mega-chest     19.99   0.0047   0.0300   0.3598
        lucky-spin      1.99   0.0080   0.0080   0.0080   (most clicks: the click policy's pick)
        vip-pass        9.99   0.0140   0.0420   0.0560   (most refunds: 60%)

    Casual players should see the starter pack, regular ones the gem bundle, whales the mega
    chest. Counting purchases alone, vip-pass (0.1049 gross) would beat the gem bundle for
    regular players: only its refunds make it a poor offer.
    """
    offers = (
        Offer("starter-pack", "pack", 0.99),
        Offer("gem-bundle", "currency", 4.99),
        Offer("mega-chest", "pack", 19.99),
        Offer("lucky-spin", "spin", 1.99),
        Offer("vip-pass", "subscription", 9.99),
    )
    ids = [offer.creative_id for offer in offers]

    def by_offer(*values: float) -> dict[str, float]:
        return dict(zip(ids, values))

    return GameWorld(
        offers=offers,
        spend_shares={"casual": 0.6, "regular": 0.3, "whale": 0.1},
        visits_per_day={"casual": 1.0, "regular": 1.5, "whale": 2.0},
        #                  starter gem    mega   spin  vip
        ctr=by_offer(0.08, 0.06, 0.05, 0.20, 0.07),
        purchase={
            "casual": by_offer(0.30, 0.05, 0.005, 0.02, 0.05),
            "regular": by_offer(0.20, 0.25, 0.03, 0.02, 0.15),
            "whale": by_offer(0.10, 0.15, 0.30, 0.02, 0.20),
        },
        refund=by_offer(0.02, 0.02, 0.05, 0.0, 0.6),
        repeat={
            "casual": by_offer(0.12, 0.02, 0.0, 0.0, 0.0),
            "regular": by_offer(0.12, 0.12, 0.05, 0.0, 0.0),
            "whale": by_offer(0.12, 0.12, 0.25, 0.0, 0.0),
        },
        country_shares={"US": 0.35, "DE": 0.25, "BR": 0.2, "IN": 0.2},
        country_factor={"US": 1.2, "DE": 1.0, "BR": 0.8, "IN": 0.7},
    )


def make_customers(world: GameWorld, n: int, rng: np.random.Generator) -> list[Customer]:
    """n players with features drawn from the world's shares."""
    levels, level_p = _choice_table(world.spend_shares)
    countries, country_p = _choice_table(world.country_shares)
    spend = rng.choice(len(levels), size=n, p=level_p)
    country = rng.choice(len(countries), size=n, p=country_p)
    facebook = rng.random(n) < world.facebook_share
    return [
        Customer(f"player-{i:05d}", countries[country[i]], bool(facebook[i]), levels[spend[i]])
        for i in range(n)
    ]


def make_visits(
    world: GameWorld, customers: Sequence[Customer], days: float, rng: np.random.Generator
) -> list[Visit]:
    """Every player's visits over days (Poisson arrivals), in time order, with their luck."""
    end = days * DAY_S
    visits = []
    for index, customer in enumerate(customers):
        count = rng.poisson(world.visits_per_day[customer.spend_level] * days)
        for time in np.sort(rng.uniform(0.0, end, size=count)):
            visits.append(Visit(float(time), index, rng.random(UNIFORMS_PER_VISIT)))
    visits.sort(key=lambda visit: (visit.time, visit.customer))
    return visits


def _choice_table(shares: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    names = list(shares)
    weights = np.array([shares[name] for name in names], dtype=float)
    return names, weights / weights.sum()
