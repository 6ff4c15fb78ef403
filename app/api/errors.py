"""Every error answer as JSON, registered in one place: ``{"error": {"code": "...", "message": "..."}}``."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from app.errors import ApiError, StorageUnavailable
from app.storage.db import DRIVER_ERRORS

log = logging.getLogger(__name__)

# Werkzeug's own errors (routing, method, body size) keep their status with our JSON shape.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        response = error_response(error.status, error.code, error.message)
        if error.status in (429, 503):  # when to send it again (a click: when its earlier request's lease runs out)
            response.headers["Retry-After"] = str(getattr(error, "retry_after_s", 1))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        response = error_response(status, _HTTP_CODES.get(status, "http_error"), error.description or error.name)
        for name, value in error.get_headers():  # e.g. a 405's Allow: the methods the resource supports
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    def _storage_error(error: Exception):
        log.warning("storage error: %s", error)
        response = error_response(503, StorageUnavailable.code, "storage is unavailable, retry later")
        response.headers["Retry-After"] = "1"
        return response

    for driver_error in DRIVER_ERRORS:
        app.register_error_handler(driver_error, _storage_error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal", "internal error")
