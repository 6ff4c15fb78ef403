"""slotbandit: the Flask service. ``create_app`` only wires the pieces together."""
from __future__ import annotations

from typing import Optional

from flask import Flask

from app.settings import Settings


def create_app(settings: Optional[Settings] = None, runtime=None) -> Flask:
    """Build the service. ``settings`` defaults to the environment; tests may pass a ready ``runtime``."""
    from app import instrumentation
    from app.errors import register_errorhandlers
    from app.fast_json import FastJSONProvider
    from app.logs import configure_logging
    from app.runtime import Runtime
    from app.views import clicks, customers, dashboard, decisions, events, health, stats

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.json = FastJSONProvider(app)
    app.json.sort_keys = False
    app.extensions["slotbandit"] = runtime or Runtime.build(settings)
    register_errorhandlers(app)
    instrumentation.init_app(app, access_log=settings.access_log)
    for module in (decisions, clicks, stats, health, events, customers, dashboard):
        app.register_blueprint(module.bp)
    return app
