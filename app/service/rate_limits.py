"""Per-tenant rate limits: no tenant can take the whole service.

Each tenant has a limit of ``rps`` requests a second with bursts of ``burst`` at once, stored with
the tenant (``slotbandit tenant limit``) and read through a refreshing cache (a change applies
within 5 s). A tenant without a limit of its own gets the service's ``SLOTBANDIT_DEFAULT_RPS``;
0 is unlimited. Every tenant call (decisions, clicks, events, stats, ...) takes one token from the
tenant's bucket, shared by all workers of the instance (``app.service.shared_buckets``); with none
left it is refused with 429 ``rate_limited`` and ``Retry-After``. Calls without a tenant (health,
metrics, the OpenAPI document) are never limited. Limits hold per instance: N instances behind a
load balancer let a tenant through at up to N times its limit.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from app import metrics
from app.errors import TooManyRequests
from app.service.shared_buckets import SharedBuckets, TableFull
from app.storage.tenants import StoredLimit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    rps: float  # requests a second; 0: unlimited
    burst: float  # requests at once after a quiet moment

    @property
    def unlimited(self) -> bool:
        return self.rps <= 0


def effective_limit(stored: Optional[StoredLimit], default_rps: float) -> Limit:
    """The limit that applies: the tenant's own, else the default; a burst of one second unless set."""
    rps = stored.rps if stored is not None and stored.rps is not None else default_rps
    burst = stored.burst if stored is not None and stored.burst else rps
    return Limit(max(0.0, rps), max(1.0, burst))  # a bucket must hold one request, however it was written


class RateLimiter:
    def __init__(self, limit_of: Callable[[str], Limit], buckets: SharedBuckets,
                 clock: Callable[[], float] = time.monotonic):
        self._limit_of = limit_of
        self.buckets = buckets
        self._clock = clock
        self._counters: Dict[Tuple[str, str], object] = {}
        self._warned_full = False

    def admit(self, tenant: str) -> None:
        """Count one request of ``tenant``; ``TooManyRequests`` when its limit is spent."""
        limit = self._limit_of(tenant)
        if not limit.unlimited:
            try:
                wait = self.buckets.take(tenant, limit.rps, limit.burst, self._clock())
            except TableFull as error:  # more limited tenants than records: let it through, say so once
                wait = 0.0
                if not self._warned_full:
                    self._warned_full = True
                    log.warning("rate limits not enforced for new tenants", extra={"error": str(error)})
            if wait > 0:
                self._count(tenant, "limited")
                retry_after_s = max(1, math.ceil(wait))
                raise TooManyRequests(f"over this tenant's limit of {limit.rps:g} requests per second "
                                      f"(bursts of {limit.burst:g}); retry in {retry_after_s} s", retry_after_s)
        self._count(tenant, "allowed")

    def _count(self, tenant: str, result: str) -> None:
        counter = self._counters.get((tenant, result))
        if counter is None:
            counter = self._counters[(tenant, result)] = metrics.TENANT_REQUESTS.labels(tenant, result)
        counter.inc()

    def close(self) -> None:
        self.buckets.close()
