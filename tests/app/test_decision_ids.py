"""Signed decision ids (unit tests: no storage)."""
from app.decision_ids import DecisionSigner, DecisionToken

TOKEN = DecisionToken("acme", "web", "home", "banner-01", ("global", "city:pune"), 1_795_000_000_000, "n0nce",
                      "pune", "newsletter")


def test_round_trip_keeps_every_field():
    signer = DecisionSigner(b"secret-secret-secret")
    assert signer.verify(signer.sign(TOKEN)) == TOKEN


def test_any_altered_character_is_refused():
    signer = DecisionSigner(b"secret-secret-secret")
    decision_id = signer.sign(TOKEN)
    for position in range(len(decision_id)):
        original = decision_id[position]
        replacement = "A" if original != "A" else "B"
        altered = decision_id[:position] + replacement + decision_id[position + 1:]
        assert signer.verify(altered) is None, position


def test_other_secret_and_garbage_are_refused():
    signer = DecisionSigner(b"secret-secret-secret")
    assert DecisionSigner(b"another-secret-value").verify(signer.sign(TOKEN)) is None
    for garbage in ("", "v1", "v1..", "v2.a.b", "v1.a.b.c", "x" * 5000, "v1.%%%.###"):
        assert signer.verify(garbage) is None


def test_a_revenue_decision_signs_its_customer_and_older_ids_still_read():
    from app.decision_ids import DecisionSigner, DecisionToken

    signer = DecisionSigner(b"k" * 32)
    plain = DecisionToken("t", "web", "s", "a", ("global",), 1, "n")
    with_customer = DecisionToken("t", "web", "s", "a", ("global",), 1, "n", customer_id="u1")
    assert signer.verify(signer.sign(plain)) == plain
    assert signer.verify(signer.sign(with_customer)).customer_id == "u1"
