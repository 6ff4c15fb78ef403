"""Token buckets in shared memory: the arithmetic with a fake clock, and one bucket for many processes."""
import multiprocessing

import pytest

from app.service.shared_buckets import SLOTS, SharedBuckets, TableFull


def test_a_bucket_starts_full_spends_its_burst_and_refills_at_its_rate():
    # 8 tokens a second: every moment below is exact in binary, so the arithmetic is too.
    buckets = SharedBuckets()
    taken = [buckets.take("acme", rate=8.0, burst=5.0, now=100.0) for _ in range(6)]
    assert taken == [0.0] * 5 + [0.125]  # the sixth: one token at 8/s is 0.125 s away
    assert buckets.take("acme", 8.0, 5.0, now=100.0625) == 0.0625  # a refused request takes nothing
    assert buckets.take("acme", 8.0, 5.0, now=100.125) == 0.0
    assert buckets.take("acme", 8.0, 5.0, now=100.125) == 0.125
    # A long quiet moment refills up to the burst, not beyond.
    assert [buckets.take("acme", 8.0, 5.0, now=200.0) for _ in range(6)].count(0.0) == 5


def test_tenants_have_buckets_of_their_own():
    buckets = SharedBuckets()
    assert buckets.take("a", 1.0, 1.0, now=1.0) == 0.0
    assert buckets.take("a", 1.0, 1.0, now=1.0) > 0
    assert buckets.take("b", 1.0, 1.0, now=1.0) == 0.0


def test_a_lowered_burst_applies_at_once():
    buckets = SharedBuckets()
    buckets.take("a", 100.0, 100.0, now=1.0)
    assert [buckets.take("a", 1.0, 2.0, now=1.0) for _ in range(3)].count(0.0) == 2


def _spend(path, tenant, attempts, results):
    buckets = SharedBuckets(path)
    results.put(sum(1 for _ in range(attempts) if buckets.take(tenant, 1e-6, 50.0, now=10.0) == 0.0))


def test_processes_mapping_one_file_share_one_bucket(tmp_path):
    # Four processes try 100 takes each from a bucket of 50 that does not refill (1e-6/s): a bucket per
    # process would give 200, a shared one gives exactly 50 however the takes interleave.
    path = tmp_path / "buckets"
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_spend, args=(path, "acme", 100, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    taken = sum(results.get(timeout=30) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert taken == 50


def test_a_full_table_says_so():
    buckets = SharedBuckets()
    for number in range(SLOTS):
        buckets.take(f"t{number}", 1.0, 1.0, now=1.0)
    with pytest.raises(TableFull):
        buckets.take("one-too-many", 1.0, 1.0, now=1.0)


def test_a_fast_tenant_takes_tokens_in_reserves_and_never_more_than_its_bucket():
    # 10,000/s: a process takes RESERVE_S x 10,000 = 100 tokens per lock; over a burst of 1,000 with no
    # refill, exactly 1,000 requests pass whatever the reserves.
    buckets = SharedBuckets()
    passed = sum(1 for _ in range(1500) if buckets.take("fast", 10_000.0, 1_000.0, now=5.0) == 0.0)
    assert passed == 1000
    assert buckets.take("fast", 10_000.0, 1_000.0, now=5.0) > 0
