"""Storage: every CQL statement of the service lives in this package, one module per concept."""
from app.store.catalog import CatalogStore, Creative, SlotConfig
from app.store.counts import CountsStore, CountDelta
from app.store.events import EventStore, Event
from app.store.tenants import TenantStore, TenantError, hash_key, validate_tenant_name

__all__ = [
    "CatalogStore",
    "CountDelta",
    "CountsStore",
    "Creative",
    "Event",
    "EventStore",
    "SlotConfig",
    "TenantError",
    "TenantStore",
    "hash_key",
    "validate_tenant_name",
]
