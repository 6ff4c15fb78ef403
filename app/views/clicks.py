from flask import Blueprint, jsonify, request

from app import validation
from app.auth import current_tenant
from app.clicking import record_click
from app.runtime import runtime

bp = Blueprint("clicks", __name__)


@bp.post("/click")
def click():
    tenant = current_tenant()
    body = validation.json_object(request)
    status, answer = record_click(runtime(), tenant, body.get("decision_id"),
                                  validation.free_text(body, "customer_id"))
    return jsonify(answer), status
