"""The app factory: ``create_app`` wires settings, runtime, error handlers and blueprints."""
from __future__ import annotations

from typing import Optional

from flask import Flask

from app.api import errors, instrumentation, limits
from app.api.fast_json import FastJSONProvider
from app.api.views import clicks, creatives, customers, dashboard, events, health, stats
from app.logs import configure_logging
from app.service.runtime import Runtime
from app.settings import Settings

BLUEPRINTS = (creatives, clicks, stats, health, events, customers, dashboard)


def create_app(settings: Optional[Settings] = None, runtime: Optional[Runtime] = None) -> Flask:
    """Build the service. ``settings`` defaults to the environment; tests may pass a ready ``runtime``."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.json = FastJSONProvider(app)
    app.json.sort_keys = False
    app.extensions["slotbandit"] = runtime or Runtime.build(settings)
    errors.register_errorhandlers(app)
    instrumentation.init_app(app, access_log=settings.access_log)
    limits.init_app(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
    return app
