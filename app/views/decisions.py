from flask import Blueprint, jsonify, request

from app import validation
from app.auth import current_tenant
from app.deciding import DecisionRequest, decide
from app.runtime import runtime

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
