"""The runtime of the Flask app serving the current request."""
from __future__ import annotations

from flask import current_app

from app.service.runtime import Runtime


def runtime() -> Runtime:
    """The ``Runtime`` that ``create_app`` stored in the app's extensions."""
    return current_app.extensions["slotbandit"]
