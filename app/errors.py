"""One family of API errors. ``app.api.errors`` maps them to JSON answers in one place.

Every error answer has the shape ``{"error": {"code": "...", "message": "..."}}``. A client mistake
is always a 4xx; storage trouble is a 503; only a bug in this service is a 500. No Flask and no
driver here: the storage layer, the stream worker and the jobs raise these too.
"""
from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Gone(ApiError):
    status, code = 410, "gone"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class StorageUnavailable(ApiError):
    status, code = 503, "storage_unavailable"
