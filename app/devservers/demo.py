"""The demo tenant: tenant 'demo' and the slots of ``cql/examples/demo.cql``."""
from __future__ import annotations

from app.storage.db import Database
from app.storage.schema import CQL_DIR, run_file
from app.storage import TenantStore

DEMO_TENANT = "demo"
DEMO_CQL = CQL_DIR / "examples" / "demo.cql"


def load_demo(db: Database) -> str:
    """Create (or give a fresh key to) the demo tenant, write its slots; return its API key."""
    tenants = TenantStore(db)
    key = tenants.rotate_key(DEMO_TENANT) if tenants.exists(DEMO_TENANT) else tenants.create(DEMO_TENANT)
    run_file(db.session, DEMO_CQL, db.settings)
    return key
