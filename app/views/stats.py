from flask import Blueprint, jsonify, request

from app import validation
from app.auth import current_tenant
from app.errors import BadRequest
from app.reporting import referrer_stats, slot_stats
from app.runtime import runtime

bp = Blueprint("stats", __name__)


@bp.get("/slot/<slot_id>/stats")
def stats(slot_id: str):
    tenant = current_tenant()
    platform = validation.platform(request.args)
    slot_id = validation.slot_id(slot_id)
    by = request.args.get("by", "segment")
    if by == "referrer":
        return jsonify(referrer_stats(runtime(), tenant, platform, slot_id))
    if by != "segment":
        raise BadRequest("by must be 'segment' (the default) or 'referrer'", "invalid_by")
    return jsonify(slot_stats(runtime(), tenant, platform, slot_id, validation.city(request.args)))
