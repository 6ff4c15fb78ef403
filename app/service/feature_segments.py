"""Feature segments on the decision path: which leaf of the slot's segment model a customer is in.

When a decision request names a ``customer_id`` but no ``segment`` and the slot has a stored model
(``slotbandit segments fit``), the customer's current features (``app.service.customer_features``) go
through the model's rules and the decision is made and counted in ``feature:<leaf id>``. Leaves
form one family, pooled toward the slot-wide posterior by the policy like cities are.

Costs on the request path: the model is cached per slot and reloaded in the background like slot
configuration (within SLOTBANDIT_CONFIG_REFRESH_S); a slot without a model costs no feature read.
A customer's features are cached for ``FEATURE_TTL_S`` seconds, so a burst of decisions for one
customer reads storage once. A customer without events decides as before (no feature segment), and
so does a request whose feature read fails (the decision is still served from the caches).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, Optional, Tuple

from app import metrics
from app.service.fresh_cache import RefreshingCache
from app.service.customer_features import customer_features
from app.storage.customers import CustomerStore
from app.storage.segment_models import SegmentModelStore, StoredModel
from bandit.segmenter import segment_of

log = logging.getLogger(__name__)

FAMILY = "feature"
FEATURE_TTL_S = 5.0
MAX_CUSTOMERS = 50_000  # cached feature sets per process; the cache is emptied when full
_ATTRIBUTE = "_feature_segmenter"
_LOCK = threading.Lock()


class FeatureCache:
    """Customer features for a few seconds: (tenant, customer) -> (read at, features or None)."""

    def __init__(self, customers: CustomerStore, ttl_s: float = FEATURE_TTL_S, max_entries: int = MAX_CUSTOMERS):
        self.customers, self.ttl_s, self.max_entries = customers, ttl_s, max_entries
        self._entries: Dict[Tuple[str, str], Tuple[float, Optional[Dict[str, Any]]]] = {}
        self.reads = 0  # storage reads so far (observable in tests and debugging)

    def get(self, tenant: str, customer_id: str) -> Optional[Dict[str, Any]]:
        now = time.monotonic()
        entry = self._entries.get((tenant, customer_id))
        if entry is not None and now - entry[0] <= self.ttl_s:
            return entry[1]
        self.reads += 1
        try:
            features = customer_features(self.customers, tenant, customer_id)
        except Exception as error:  # storage trouble: decide without a feature segment, try again next time
            log.warning("customer features unavailable", extra={"tenant": tenant, "error": str(error)[:200]})
            metrics.CACHE_REFRESH_ERRORS.labels("customer_features").inc()
            return None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[(tenant, customer_id)] = (now, features)
        return features


class FeatureSegmenter:
    """Per-process models (refreshing cache per slot) and customer features (short-lived cache)."""

    def __init__(self, models: SegmentModelStore, features: FeatureCache, refresh_s: float):
        self.features = features
        self.models = RefreshingCache("segment_models", lambda key: models.load(*key), refresh_s,
                                      on_refresh_error=lambda name: metrics.CACHE_REFRESH_ERRORS.labels(name).inc())

    def model(self, tenant: str, platform: str, slot_id: str) -> Optional[StoredModel]:
        return self.models.get((tenant, platform, slot_id))

    def leaf(self, tenant: str, platform: str, slot_id: str, customer_id: Optional[str],
             named_segment: Optional[str]) -> Optional[str]:
        """The leaf id for this request, or None (no customer, a named segment, no model, no features)."""
        if not customer_id or named_segment:
            return None
        stored = self.model(tenant, platform, slot_id)
        if stored is None:
            return None
        features = self.features.get(tenant, customer_id)
        return segment_of(stored.model, features) if features is not None else None


def segmenter(rt) -> FeatureSegmenter:
    """The runtime's segmenter, built on first use."""
    found = getattr(rt, _ATTRIBUTE, None)
    if found is None:
        with _LOCK:
            found = getattr(rt, _ATTRIBUTE, None)
            if found is None:
                found = FeatureSegmenter(SegmentModelStore(rt.db), FeatureCache(CustomerStore(rt.db)),
                                         rt.settings.config_refresh_s)
                setattr(rt, _ATTRIBUTE, found)
    return found


def feature_segment(rt, tenant: str, platform: str, slot_id: str, customer_id: Optional[str],
                    named_segment: Optional[str]) -> Optional[str]:
    """The leaf id a decision request belongs to (see the module docstring), or None."""
    return segmenter(rt).leaf(tenant, platform, slot_id, customer_id, named_segment)
