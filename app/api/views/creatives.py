from flask import Blueprint, jsonify, request

from app.api import validation
from app.api.auth import current_tenant
from app.service.choose import DecisionRequest, decide
from app.api.current import runtime

bp = Blueprint("decisions", __name__)


@bp.get("/slot/<slot_id>/creative")
def choose_creative(slot_id: str):
    tenant = current_tenant()
    args = request.args
    decision = decide(runtime(), DecisionRequest(
        tenant=tenant,
        platform=validation.platform(args),
        slot_id=validation.slot_id(slot_id),
        city=validation.city(args),
        segment=validation.segment(args),
        customer_id=validation.free_text(args, "customer_id"),
        referrer=validation.free_text(args, "referrer"),
    ))
    return jsonify(decision)
