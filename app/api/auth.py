"""Tenant authentication: every tenant call carries ``X-Api-Key``; the tenant is whatever it maps to."""
from __future__ import annotations

from flask import g, request

from app.errors import Unauthorized
from app.api.current import runtime

HEADER = "X-Api-Key"
MAX_KEY_LENGTH = 128


def current_tenant() -> str:
    """The tenant of this request's key, or a 401; a 429 over the tenant's rate limit (one token of
    its bucket per request). Keys are cached per process for a couple of seconds."""
    tenant = g.get("tenant")
    if tenant is not None:
        return tenant
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise Unauthorized(f"missing {HEADER} header", "missing_api_key")
    tenant = runtime().tenant_for_key(key) if len(key) <= MAX_KEY_LENGTH else None
    if tenant is None:
        raise Unauthorized("unknown API key", "unknown_api_key")
    runtime().limiter.admit(tenant)  # 429 over the tenant's rate limit
    g.tenant = tenant
    return tenant
