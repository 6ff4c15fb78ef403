"""The per-process objects of the service, built once by ``create_app`` and shared by every view."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

from app import metrics
from app.service.bucket_pruner import BucketPruner
from app.service.frequency import CapHints
from app.service.fresh_cache import RefreshingCache
from app.storage.db import Database
from app.decision_ids import DecisionSigner
from app.service.impression_writer import ImpressionWriter
from app.service.prewarm import Prewarmer
from app.service.rate_limits import RateLimiter, effective_limit
from app.service.shared_buckets import SharedBuckets
from app.settings import Settings
from app.storage import CatalogStore, CountsStore, EventStore, SlotConfig, TenantStore, hash_key
from app.storage.frequency import FrequencyStore
from app.storage.priors import PriorsStore
from app.storage.revenue import RevenueStore
from bandit import SlotSnapshot, ThompsonConfig, ThompsonPolicy
from bandit.discount import (bucket_width_s, discount_buckets, discount_priors, discount_revenue_buckets,
                             first_bucket_read)
from bandit.policies.revenue import RevenueConfig, RevenuePolicy, RevenueTotals

# A rotated or deleted key stops working within KEY_MAX_AGE_S plus one read; a paused creative stops
# being shown within CONFIG_MAX_AGE_S plus one read (the README promises 2 s and 5 s).
KEY_CACHE_TTL_S = 1.0
KEY_MAX_AGE_S = 1.5
CONFIG_MAX_AGE_S = 4.5
SlotKey = Tuple[str, str, str]  # (tenant, platform, slot_id)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    tenants: TenantStore
    catalog: CatalogStore
    counts: CountsStore
    events: EventStore
    writer: ImpressionWriter
    signer: DecisionSigner
    policy: ThompsonPolicy  # slots whose objective is clicks
    revenue_policy: RevenuePolicy  # slots whose objective is revenue (bandit.policies.revenue)
    keys: RefreshingCache
    slots: RefreshingCache
    snapshots: RefreshingCache
    prewarmer: Prewarmer
    frequency: FrequencyStore  # frequency-cap marks (slots with frequency_cap, requests with customer_id)
    cap_hints: CapHints  # which creatives this process last found at the cap, per customer (app.service.frequency)
    limiter: RateLimiter  # per-tenant rate limits, shared by the instance's workers
    pruner: BucketPruner  # deletes the time buckets of served half-life slots that nothing reads or writes
    publisher: Optional[object] = None  # app.stream.publisher.KafkaPublisher in Kafka mode

    @classmethod
    def build(cls, settings: Settings, rng: Optional[np.random.Generator] = None) -> "Runtime":
        db = Database(settings)
        rng = rng or np.random.default_rng()
        tenants, catalog, counts, events = TenantStore(db), CatalogStore(db), CountsStore(db), EventStore(db)
        def on_error(cache_name: str) -> None:
            metrics.CACHE_REFRESH_ERRORS.labels(cache_name).inc()

        versions = iter(range(1, 1 << 62))

        prewarmer = Prewarmer()
        pruner = BucketPruner(db)

        slots = RefreshingCache("slots", lambda key: catalog.load_slot(*key), settings.config_refresh_s,
                                max_age_s=max(CONFIG_MAX_AGE_S, settings.config_refresh_s), on_refresh_error=on_error)

        def load_snapshot(key: SlotKey) -> SlotSnapshot:
            slot = slots.get(key)
            snapshot = read_snapshot(db, *key, version=next(versions), half_life_s=slot.half_life_s if slot else None)
            prewarmer.warm(key, snapshot)  # propensities of the new posteriors, before requests see them
            pruner.note(key, slot)
            return snapshot

        # A changed limit applies within CONFIG_MAX_AGE_S plus one read, like a slot's configuration.
        limits = RefreshingCache("rate_limits", lambda tenant: effective_limit(tenants.limit(tenant),
                                                                               settings.default_rps),
                                 settings.config_refresh_s, max_age_s=max(CONFIG_MAX_AGE_S, settings.config_refresh_s),
                                 on_refresh_error=on_error)
        publisher = None
        if settings.kafka_bootstrap_servers:  # Kafka mode: events are published, workers write them
            from app.stream.publisher import KafkaPublisher

            publisher = KafkaPublisher(settings)
        return cls(
            publisher=publisher,
            prewarmer=prewarmer,
            pruner=pruner,
            frequency=FrequencyStore(db),
            cap_hints=CapHints(),
            limiter=RateLimiter(limits.get, SharedBuckets(settings.rate_limit_file)),
            settings=settings,
            db=db,
            tenants=tenants,
            catalog=catalog,
            counts=counts,
            events=events,
            writer=publisher or ImpressionWriter(counts, events, queue_size=settings.write_queue_size,
                                                 flush_interval_s=settings.write_interval_s),
            signer=DecisionSigner(settings.require_secret()),
            policy=ThompsonPolicy(ThompsonConfig(), rng),
            revenue_policy=RevenuePolicy(RevenueConfig(), rng),
            keys=RefreshingCache("api_keys", tenants.tenant_for_key_hash, KEY_CACHE_TTL_S, max_age_s=KEY_MAX_AGE_S,
                                 on_refresh_error=on_error),
            slots=slots,
            snapshots=RefreshingCache("posteriors", load_snapshot, settings.posterior_refresh_s,
                                      on_refresh_error=on_error),
        )

    def tenant_for_key(self, key: str) -> Optional[str]:
        return self.keys.get(hash_key(key))

    def slot(self, tenant: str, platform: str, slot_id: str) -> Optional[SlotConfig]:
        return self.slots.get((tenant, platform, slot_id))

    def snapshot(self, tenant: str, platform: str, slot_id: str) -> SlotSnapshot:
        """The slot's counts and priors as decisions see them (cached, refreshed in the background)."""
        return self.snapshots.get((tenant, platform, slot_id))

    def stored_snapshot(self, tenant: str, platform: str, slot_id: str,
                        half_life_s: Optional[int] = None) -> SlotSnapshot:
        """The slot's counts, priors and revenue totals read from storage now, for stats and exports
        that must show every write that has landed: all-time counts, or with ``half_life_s`` the
        discounted ones decisions use."""
        return read_snapshot(self.db, tenant, platform, slot_id, half_life_s=half_life_s)

    def close(self) -> None:
        self.pruner.close()
        self.writer.close()
        self.limiter.close()
        self.db.shutdown()


def read_snapshot(db: Database, tenant: str, platform: str, slot_id: str, version: int = 0,
                  half_life_s: Optional[int] = None, now_s: Optional[float] = None) -> SlotSnapshot:
    """One slot's counts (counters plus stream totals), seeded priors and attributed revenue totals
    (empty unless the slot's objective is revenue), read from storage: four partition reads (counters,
    stream totals, priors, revenue totals).

    With ``half_life_s`` the counts and the revenue totals are the discounted ones of the last
    MAX_BUCKETS time buckets and the seeded priors fade by their seed time (bandit.discount); the
    all-time counters and totals are not read."""
    if half_life_s:
        now_s = time.time() if now_s is None else now_s
        since = first_bucket_read(now_s, bucket_width_s(half_life_s))
        segments = discount_buckets(CountsStore(db).read_buckets(tenant, platform, slot_id, since), now_s, half_life_s)
        priors = discount_priors(PriorsStore(db).read_dated(tenant, platform, slot_id), now_s, half_life_s)
        revenue = discount_revenue_buckets(RevenueStore(db).bucket_totals(tenant, platform, slot_id, since), now_s,
                                           half_life_s)
        return SlotSnapshot(segments=segments, version=version, priors=priors, revenue=revenue)
    revenue: Dict[str, Dict[str, RevenueTotals]] = {}
    for (segment, creative_id), values in RevenueStore(db).totals(tenant, platform, slot_id).items():
        # Totals are moved by differences of floats: clamp the last-digit noise below zero.
        purchases, refunds, gross, gross_sq = (max(float(v), 0.0) for v in values[:4])
        revenue.setdefault(segment, {})[creative_id] = RevenueTotals(purchases, refunds, gross, gross_sq)
    return SlotSnapshot(segments=CountsStore(db).read_slot(tenant, platform, slot_id), version=version,
                        priors=PriorsStore(db).read_slot(tenant, platform, slot_id), revenue=revenue)
