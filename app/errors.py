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


class UriTooLong(ApiError):
    status, code = 414, "uri_too_long"


class HeaderFieldsTooLarge(ApiError):
    status, code = 431, "header_fields_too_large"


class TooManyRequests(ApiError):
    """The tenant's rate limit is spent; ``retry_after_s`` says when its next request is allowed."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StorageUnavailable(ApiError):
    status, code = 503, "storage_unavailable"


class ClickInProgress(StorageUnavailable):
    """A click claimed by an earlier request that has not finished (or failed and holds its lease)."""

    code = "click_in_progress"

    def __init__(self, retry_after_s: int):
        super().__init__(f"the click is being counted by an earlier request; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s
