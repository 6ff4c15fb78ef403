"""One family of API errors, mapped to JSON in one place.

Every error answer has the shape ``{"error": {"code": "...", "message": "..."}}``. A client mistake
is always a 4xx; storage trouble is a 503; only a bug in this service is a 500.
"""
from __future__ import annotations

import logging

from cassandra import DriverException, RequestExecutionException
from cassandra.cluster import NoHostAvailable
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


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


# Werkzeug's own errors (routing, method, body size) keep their status with our JSON shape.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        return error_response(status, _HTTP_CODES.get(status, "http_error"), error.description or error.name)

    @app.errorhandler(NoHostAvailable)
    @app.errorhandler(RequestExecutionException)
    @app.errorhandler(DriverException)
    def _storage_error(error: Exception):
        log.warning("storage error: %s", error)
        return error_response(503, StorageUnavailable.code, "storage is unavailable, retry later")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal", "internal error")
