"""GET /customer/<id>/features: a customer's user features, fresh as events arrive."""
from flask import Blueprint, jsonify

from app.api.auth import current_tenant
from app.service.customer_features import customer_features
from app.errors import BadRequest, NotFound
from app.service.event_input import MAX_TEXT
from app.api.current import runtime
from app.storage.customers import CustomerStore

bp = Blueprint("customers", __name__)


@bp.get("/customer/<path:customer_id>/features")  # ids may hold "/" (sent as %2F)
def features(customer_id: str):
    tenant = current_tenant()
    if len(customer_id) > MAX_TEXT or not customer_id.isprintable():
        raise BadRequest(f"customer_id must be 1 to {MAX_TEXT} printable characters", "invalid_customer_id")
    found = customer_features(CustomerStore(runtime().db), tenant, customer_id)
    if found is None:  # also another tenant's customer: never reveal that it exists
        raise NotFound("unknown customer", "unknown_customer")
    return jsonify({"customer_id": customer_id, "features": found})
