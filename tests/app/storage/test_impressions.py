"""An impression record becomes the counter increments and the event-log row the writer stores."""
from datetime import datetime, timezone

from app.decision_ids import DecisionToken
from app.storage.impressions import Impression
from app.storage import CountDelta, Event


def test_an_impression_counts_on_each_signed_segment_and_its_referrer():
    token = DecisionToken("t", "web", "home", "b1", ("global", "city:pune", "holdout"), 1_764_000_000_123, "n1",
                          city="pune", referrer="news")
    impression = Impression(token, "v1.x.y", "city:pune", policy="holdout", propensity=0.1)
    assert impression.deltas() == [
        CountDelta("t", "web", "home", "global", "b1", impressions=1),
        CountDelta("t", "web", "home", "city:pune", "b1", impressions=1),
        CountDelta("t", "web", "home", "holdout", "b1", impressions=1),
        CountDelta("t", "web", "home", "global", "b1", impressions=1, referrer="news"),
    ]
    assert Impression(DecisionToken("t", "web", "home", "b1", ("global",), 0, "n"), "v1", "global").deltas() == [
        CountDelta("t", "web", "home", "global", "b1", impressions=1)]


def test_an_impression_is_logged_at_its_decision_time_with_its_decision_id():
    token = DecisionToken("t", "web", "home", "b1", ("global", "city:pune"), 1_764_000_000_123, "n1", city="pune")
    impression = Impression(token, "v1.x.y", "city:pune", customer_id="u-7", policy="thompson", propensity=0.25)
    assert impression.event() == Event(
        tenant="t", platform="web", slot_id="home",
        event_time=datetime(2025, 11, 24, 16, 0, 0, 123000, tzinfo=timezone.utc), event_id="imp:n1",
        kind="impression", decision_id="v1.x.y", creative_id="b1", segment="city:pune", city="pune",
        customer_id="u-7", referrer=None, policy="thompson", propensity=0.25)


def per_impression_deltas(impression):
    """The increments of one impression by definition: +1 on each count row, on those rows of its time
    bucket (slots with a half-life) and on its referrer's row."""
    t, rows = impression.token, []
    buckets = [None] if not impression.half_life_s else [None, (t.issued_ms // 1000) // (impression.half_life_s // 4)
                                                         * (impression.half_life_s // 4)]
    for bucket in buckets:
        rows += [CountDelta(t.tenant, t.platform, t.slot_id, s, t.creative_id, impressions=1, bucket=bucket)
                 for s in t.segments]
    if t.referrer:
        rows.append(CountDelta(t.tenant, t.platform, t.slot_id, "global", t.creative_id, impressions=1,
                               referrer=t.referrer))
    return rows


def impressions_of_a_flush(n=1000, spacing_ms=40):
    """n impressions of two slots (one with a 60 s half-life), three creatives, two cities, a referrer,
    one every spacing_ms (by default over 40 s: three 15 s buckets)."""
    out = []
    for i in range(n):
        slot, half_life = ("home", None) if i % 2 else ("hero", 60)
        token = DecisionToken("t", "web", slot, f"c{i % 3}", ("global", f"city:{'ab'[i % 5 % 2]}"),
                              1_764_000_000_000 + i * spacing_ms, f"n{i}", referrer="news" if i % 7 == 0 else None)
        out.append(Impression(token, "v1", "global", half_life_s=half_life))
    return out


def test_a_flush_counts_each_row_once_with_the_sum_of_its_impressions():
    from app.storage.counts import merge
    from app.storage.impressions import count_deltas

    impressions = impressions_of_a_flush()
    expected = merge(d for impression in impressions for d in per_impression_deltas(impression))
    assert count_deltas(impressions) == expected
    assert sum(d.impressions for d in expected if d.bucket is not None) == 500 * 2  # hero's rows, in buckets
    assert count_deltas([]) == []


def test_a_flush_builds_increments_per_kind_of_impression_not_per_impression(monkeypatch):
    """The writer shares its worker's interpreter with requests: a flush of 1,000 impressions builds
    an increment per counter row and kind of impression (slot, rows, creative, referrer, second),
    not four per impression of a half-life slot."""
    import app.storage.impressions as impressions_module

    built = []

    def counting(*args, **kwargs):
        built.append(1)
        return CountDelta(*args, **kwargs)

    monkeypatch.setattr(impressions_module, "CountDelta", counting)
    impressions = impressions_of_a_flush(spacing_ms=1)  # a busy worker's flush: 1,000 in a second
    rows = impressions_module.count_deltas(impressions)
    kinds = {impression.kind() for impression in impressions}
    assert len(kinds) <= 2 * 3 * 2 * 2 * 2  # slots x creatives x cities x referrer x seconds
    assert len(built) <= 5 * len(kinds) < len(impressions) / 2
    assert len(rows) < 50
