from flask import Blueprint, Response, jsonify

from app import metrics
from app.api.openapi import spec
from app.api.current import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up (no storage call)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready to serve: Cassandra answers a query now. In Kafka mode a broker outage is "degraded":
    decisions are still served and events wait in the spool."""
    rt = runtime()
    if rt.db.ping():
        if rt.publisher is not None:
            stream = rt.publisher.state()
            return jsonify({"status": "ready" if stream["kafka"] == "ok" else "degraded", "cassandra": "ok", **stream})
        return jsonify({"status": "ready", "cassandra": "ok"})
    return jsonify({"status": "unavailable", "cassandra": "unreachable"}), 503


@bp.get("/metrics")
def prometheus_metrics():
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())
