"""The dashboard: one static page at /dashboard and the two JSON calls it makes.

The page asks for the tenant's API key in a form, keeps it in the tab's sessionStorage and sends it as
``X-Api-Key`` with every call, like any API client: the key never appears in a URL, a cookie or a log.
Everything shown comes from ``GET /slots`` and ``GET /slot/<id>/overview``, which answer only with
the data of the key's tenant.
"""
from pathlib import Path

from flask import Blueprint, jsonify, request, send_from_directory

from app.api import validation
from app.api.auth import current_tenant
from app.errors import BadRequest
from app.insights.overview import DEFAULT_WINDOW_S, list_slots, slot_overview
from app.api.current import runtime

STATIC = Path(__file__).with_name("dashboard_static")
MIN_WINDOW_S, MAX_WINDOW_S = 60, 7 * 24 * 3600
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

bp = Blueprint("dashboard", __name__, static_folder=str(STATIC), static_url_path="/dashboard/static")


@bp.get("/dashboard")
def page():
    """The page itself holds no data: it is the same for every tenant."""
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.get("/slots")
def slots():
    tenant = current_tenant()
    return jsonify(list_slots(runtime(), tenant, validation.platform(request.args)))


@bp.get("/slot/<slot_id>/overview")
def overview(slot_id: str):
    tenant = current_tenant()
    platform = validation.platform(request.args)
    slot_id = validation.slot_id(slot_id)
    return jsonify(slot_overview(runtime(), tenant, platform, slot_id, _window_s(request.args.get("window_s")),
                                 validation.city(request.args)))


def _window_s(value):
    if value is None or value == "":
        return DEFAULT_WINDOW_S
    try:
        window = int(value)
    except ValueError:
        window = 0
    if not MIN_WINDOW_S <= window <= MAX_WINDOW_S:
        raise BadRequest(f"window_s must be an integer from {MIN_WINDOW_S} to {MAX_WINDOW_S}", "invalid_window_s")
    return window
