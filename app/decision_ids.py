"""Signed decision ids: everything a click needs, unforgeable and bound to one tenant.

Format: ``v1.<payload>.<signature>`` where payload is base64url(JSON list) and signature is the
first 16 bytes of HMAC-SHA256(SLOTBANDIT_SECRET, "v1." + payload), base64url. A click therefore
needs no lookup of the impression (which may still sit in a worker's write queue), and any altered
byte makes the id unknown.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Optional, Tuple

VERSION = "v1"
SIGNATURE_BYTES = 16
MAX_LENGTH = 2048


@dataclass(frozen=True)
class DecisionToken:
    tenant: str
    platform: str
    slot_id: str
    creative_id: str
    segments: Tuple[str, ...]  # the count rows the impression went to ('global', 'city:pune', ...)
    issued_ms: int  # milliseconds since the epoch
    nonce: str  # 96 random bits, unique per decision
    city: Optional[str] = None
    referrer: Optional[str] = None
    customer_id: Optional[str] = None  # signed only when the request named one

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(12)


class DecisionSigner:
    def __init__(self, secret: bytes):
        self._secret = secret

    def sign(self, token: DecisionToken) -> str:
        fields = [token.tenant, token.platform, token.slot_id, token.creative_id, list(token.segments),
                  token.issued_ms, token.nonce, token.city, token.referrer]
        if token.customer_id is not None:
            fields.append(token.customer_id)
        payload = _b64encode(json.dumps(fields, separators=(",", ":")).encode())
        return f"{VERSION}.{payload}.{self._signature(payload)}"

    def verify(self, decision_id: str) -> Optional[DecisionToken]:
        """The token, or None when the id is malformed, altered or signed with another secret."""
        parts = _split(decision_id)
        if parts is None or not hmac.compare_digest(parts[1], self._signature(parts[0])):
            return None
        return _token(parts[0])

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._secret, f"{VERSION}.{payload}".encode(), hashlib.sha256).digest()
        return _b64encode(digest[:SIGNATURE_BYTES])


def read_unverified(decision_id: Optional[str]) -> Optional[DecisionToken]:
    """The token of an id WITHOUT checking its signature, or None when it is malformed.

    Only for ids the service itself wrote to the event log (jobs that rebuild counts from it);
    an id from a client must go through ``DecisionSigner.verify``.
    """
    parts = _split(decision_id) if isinstance(decision_id, str) else None
    return None if parts is None else _token(parts[0])


def _split(decision_id: str) -> Optional[Tuple[str, str]]:
    """(payload, signature) of a well-formed ``v1.<payload>.<signature>``, else None."""
    if len(decision_id) > MAX_LENGTH:
        return None
    parts = decision_id.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        return None
    return parts[1], parts[2]


def _token(payload: str) -> Optional[DecisionToken]:
    try:
        fields = json.loads(_b64decode(payload))
        tenant, platform, slot_id, creative_id, segments, issued_ms, nonce, city, referrer, *rest = fields
        if len(rest) > 1:
            return None
        return DecisionToken(tenant, platform, slot_id, creative_id, tuple(segments), int(issued_ms), nonce,
                             city, referrer, *rest)
    except (ValueError, TypeError):  # of another shape: treat as unknown
        return None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
