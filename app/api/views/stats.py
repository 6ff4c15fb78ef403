from flask import Blueprint, jsonify, request

from app.api import validation
from app.api.auth import current_tenant
from app.errors import BadRequest
from app.service.slot_stats import referrer_stats, slot_stats
from app.api.current import runtime

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
