"""Storage: every CQL statement of the service lives in this package, one module per concept."""
from app.storage.catalog import CatalogStore, Creative, SlotConfig
from app.storage.counts import CountsStore, CountDelta
from app.storage.event_log import EventStore, Event
from app.storage.tenants import TenantStore, TenantError, hash_key, validate_tenant_name

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
