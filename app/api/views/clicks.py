from flask import Blueprint, jsonify, request

from app.api import validation
from app.api.auth import current_tenant
from app.service.clicks import record_click
from app.api.current import runtime

bp = Blueprint("clicks", __name__)


@bp.post("/click")
def click():
    tenant = current_tenant()
    body = validation.json_object(request)
    status, answer = record_click(runtime(), tenant, validation.decision_id(body),
                                  validation.free_text(body, "customer_id"))
    return jsonify(answer), status
