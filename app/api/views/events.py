"""POST /events: a game's and a shop's raw events, validated one by one, stored exactly once."""
import json
from typing import Any

from flask import Blueprint, Request, jsonify, request

from app.api.auth import current_tenant
from app.errors import BadRequest
from app.service.ingest import ingest
from app.api.current import runtime
from app.storage.customers import CustomerStore

bp = Blueprint("events", __name__)


@bp.post("/events")
def post_events():
    tenant = current_tenant()
    rt = runtime()
    request.max_content_length = rt.settings.max_events_body_bytes  # 1,000 events do not fit in 64 KiB
    return jsonify(ingest(rt, CustomerStore(rt.db), tenant, _json_body(request)))


def _json_body(req: Request) -> Any:
    """The body as JSON (its shape is checked by ``ingest``); a body that is not JSON is a 400."""
    raw = req.get_data(cache=False)  # bounded by max_content_length: larger bodies are a 413 already
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise BadRequest(f"request body is not valid JSON: {error}", "invalid_json") from None
