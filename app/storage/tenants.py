"""Tenants and API keys. A key is shown once, at creation or rotation; only its hash is stored."""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone
from typing import List, NamedTuple, Optional

from app.storage.db import Database

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
KEY_PREFIX = "sb_"


class StoredLimit(NamedTuple):
    """A tenant's rate limit as stored: ``rps`` None means the service's default, 0 unlimited;
    ``burst`` None means one second of requests."""

    rps: Optional[float]
    burst: Optional[float]


class TenantError(Exception):
    """A tenant command cannot be done (exists already, unknown, bad name); one line for the operator."""


def validate_tenant_name(name: str) -> str:
    if not TENANT_NAME.match(name or ""):
        raise TenantError(
            f"tenant name must be 1-64 lowercase letters, digits, '-' or '_' starting with a letter or digit, "
            f"but {name!r} is given"
        )
    return name


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 of the key. Keys carry 256 random bits, so no salt or slow hash is needed."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class TenantStore:
    def __init__(self, db: Database):
        self.db = db

    def tenant_for_key_hash(self, key_hash: str) -> Optional[str]:
        row = self.db.execute("SELECT tenant FROM api_keys WHERE key_hash = ?", (key_hash,)).one()
        return row["tenant"] if row else None

    def create(self, name: str) -> str:
        validate_tenant_name(name)
        key = new_key()
        now = _now()
        applied = self.db.execute(
            "INSERT INTO tenants (name, key_hash, created_at) VALUES (?, ?, ?) IF NOT EXISTS",
            (name, hash_key(key), now),
        ).one()["[applied]"]
        if not applied:
            raise TenantError(f"tenant {name!r} already exists (use `slotbandit tenant rotate-key {name}` for a new key)")
        self.db.execute("INSERT INTO api_keys (key_hash, tenant, created_at) VALUES (?, ?, ?)", (hash_key(key), name, now))
        return key

    def list(self) -> List[dict]:
        rows = self.db.execute("SELECT name, created_at, rotated_at, rate_rps, rate_burst FROM tenants")
        return sorted(rows, key=lambda row: row["name"])

    def limit(self, name: str) -> Optional[StoredLimit]:
        """The tenant's stored rate limit; None for an unknown tenant."""
        row = self.db.execute("SELECT rate_rps, rate_burst FROM tenants WHERE name = ?", (name,)).one()
        return StoredLimit(row["rate_rps"], row["rate_burst"]) if row else None

    def set_limit(self, name: str, rps: float, burst: Optional[float] = None) -> None:
        """Store NAME's limit: ``rps`` requests a second (0: unlimited), bursts of ``burst`` at once."""
        if not self.exists(name):
            raise TenantError(f"unknown tenant {name!r}")
        self.db.execute("UPDATE tenants SET rate_rps = ?, rate_burst = ? WHERE name = ?", (rps, burst, name))

    def exists(self, name: str) -> bool:
        return self._key_hash(name) is not None

    def rotate_key(self, name: str) -> str:
        """Give the tenant a new key; the old one stops working at once (within the key cache's TTL)."""
        old_hash = self._key_hash(name)
        if old_hash is None:
            raise TenantError(f"unknown tenant {name!r}")
        key = new_key()
        now = _now()
        self.db.execute("INSERT INTO api_keys (key_hash, tenant, created_at) VALUES (?, ?, ?)", (hash_key(key), name, now))
        self.db.execute("UPDATE tenants SET key_hash = ?, rotated_at = ? WHERE name = ?", (hash_key(key), now, name))
        self.db.execute("DELETE FROM api_keys WHERE key_hash = ?", (old_hash,))
        return key

    def delete(self, name: str) -> int:
        """Delete the tenant, its key and its slots and creatives; return how many slots went with it.

        Counts and the event log are left to expire or to an operator: they are history, not configuration.
        """
        old_hash = self._key_hash(name)
        if old_hash is None:
            raise TenantError(f"unknown tenant {name!r}")
        self.db.execute("DELETE FROM api_keys WHERE key_hash = ?", (old_hash,))
        platforms = {
            row["platform"]
            for row in self.db.execute("SELECT DISTINCT tenant, platform FROM slots")
            if row["tenant"] == name
        }
        removed = 0
        for platform in platforms:
            for row in self.db.execute("SELECT slot_id FROM slots WHERE tenant = ? AND platform = ?", (name, platform)):
                self.db.execute(
                    "DELETE FROM creatives WHERE tenant = ? AND platform = ? AND slot_id = ?",
                    (name, platform, row["slot_id"]),
                )
                removed += 1
            self.db.execute("DELETE FROM slots WHERE tenant = ? AND platform = ?", (name, platform))
        self.db.execute("DELETE FROM tenants WHERE name = ?", (name,))
        return removed

    def _key_hash(self, name: str) -> Optional[str]:
        row = self.db.execute("SELECT key_hash FROM tenants WHERE name = ?", (name,)).one()
        return row["key_hash"] if row else None


def _now() -> datetime:
    return datetime.now(timezone.utc)
