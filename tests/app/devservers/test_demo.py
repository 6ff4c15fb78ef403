"""The demo tenant of ./scripts/quickstart: its CQL applies and every slot serves."""
import pytest

from app.devservers.demo import load_demo

pytestmark = pytest.mark.integration


def test_demo_slots_serve_banners_and_offers(client, db):
    key = load_demo(db)
    headers = {"X-Api-Key": key}
    banner = client.get("/slot/home-banner/creative?platform=web&city=pune", headers=headers)
    assert banner.status_code == 200 and "price" not in banner.get_json()["creative"]
    offer = client.get("/slot/shop/creative?platform=android&customer_id=player-1", headers=headers)
    assert offer.status_code == 200, offer.get_data(as_text=True)
    creative = offer.get_json()["creative"]
    assert creative["offer_type"] in ("gems", "bundle") and creative["price"] in (0.99, 4.99, 9.99)
    assert load_demo(db) != key  # loading again rotates the key and rewrites the same rows
