"""A key sees only its own tenant's slots, decisions and stats, on every endpoint."""
import pytest

pytestmark = pytest.mark.integration


def test_other_tenants_slot_answers_like_a_missing_slot(client, make_tenant):
    owner, intruder = make_tenant("owner"), make_tenant("intruder")
    owner.add_slot("secret-slot", creatives=["a"])
    for path in ("/slot/secret-slot/creative?platform=web", "/slot/secret-slot/stats?platform=web",
                 "/slot/secret-slot/stats?platform=web&by=referrer"):
        theirs = client.get(path, headers=intruder.headers)
        missing = client.get(path.replace("secret-slot", "never-existed"), headers=intruder.headers)
        assert theirs.status_code == 404
        assert theirs.get_json() == {"error": {"code": "unknown_slot", "message": missing.get_json()["error"][
            "message"].replace("never-existed", "secret-slot")}}
        assert client.get(path, headers=owner.headers).status_code == 200


def test_same_slot_name_in_two_tenants_stays_separate(client, make_tenant, runtime):
    first, second = make_tenant("first"), make_tenant("second")
    first.add_slot("home", creatives=["first-a"])
    second.add_slot("home", creatives=["second-a"])
    assert client.get("/slot/home/creative?platform=web", headers=first.headers).get_json()[
        "creative"]["creative_id"] == "first-a"
    chosen = client.get("/slot/home/creative?platform=web", headers=second.headers).get_json()
    assert chosen["creative"]["creative_id"] == "second-a"
    assert client.post("/click", json={"decision_id": chosen["decision_id"]}, headers=first.headers).status_code == 404
    runtime.writer.flush()
    stats = client.get("/slot/home/stats?platform=web", headers=first.headers).get_json()
    ids = {c["creative_id"] for s in stats["segments"] for c in s["creatives"]}
    assert ids == {"first-a"}
