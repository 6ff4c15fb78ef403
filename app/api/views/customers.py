"""GET /customer/<id>/features: a customer's user features, fresh as events arrive."""
from flask import Blueprint, jsonify

from app.api import validation
from app.api.auth import current_tenant
from app.service.customer_features import customer_features
from app.errors import NotFound
from app.api.current import runtime
from app.storage.customers import CustomerStore

bp = Blueprint("customers", __name__)


@bp.get("/customer/<path:customer_id>/features")  # ids may hold "/" (sent as %2F)
def features(customer_id: str):
    tenant = current_tenant()
    validation.CUSTOMER_PATH.check(customer_id)
    found = customer_features(CustomerStore(runtime().db), tenant, customer_id)
    if found is None:  # also another tenant's customer: never reveal that it exists
        raise NotFound("unknown customer", "unknown_customer")
    return jsonify({"customer_id": customer_id, "features": found})
