"""The on-disk spool: order, bound, restart and adoption of a dead process's spool (no broker)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from app.stream.spool import Spool


def messages(start: int, count: int):
    return [("topic", f"k{i % 3}".encode(), f'{{"n":{i}}}'.encode()) for i in range(start, start + count)]


def test_drains_in_order_across_peeks_and_pops(tmp_path):
    spool = Spool(tmp_path, max_events=1000, name="spool-a.log")
    assert spool.append(messages(0, 250)) == 0
    drained = []
    while spool.depth:
        chunk = spool.peek(100)
        drained += chunk
        spool.pop(len(chunk))
    assert drained == messages(0, 250)
    assert spool.path.stat().st_size == 0  # emptied spool is truncated


def test_full_spool_refuses_the_overflow_and_counts_it(tmp_path):
    spool = Spool(tmp_path, max_events=1000, name="spool-a.log")
    assert spool.append(messages(0, 900)) == 0
    assert spool.append(messages(900, 250)) == 150
    assert spool.depth == 1000
    assert spool.peek(2000) == messages(0, 1000)


def test_reopened_spool_resumes_after_the_last_acknowledged_chunk(tmp_path):
    spool = Spool(tmp_path, max_events=1000, name="spool-a.log")
    spool.append(messages(0, 30))
    spool.pop(len(spool.peek(10)))
    spool.close()
    again = Spool(tmp_path, max_events=1000, name="spool-a.log")
    assert again.depth == 20 and again.peek(100) == messages(10, 20)


def test_a_dead_process_spool_is_adopted_and_a_torn_last_line_ignored(tmp_path):
    script = textwrap.dedent(f"""
        from app.stream.spool import Spool
        s = Spool({str(tmp_path)!r}, max_events=1000)
        s.append([("topic", b"k", b'{{"n":%d}}' % i) for i in range(40)])
        s.pop(15)
        s._file.write(b'["topic","k","{{\\\\"n\\\\":99')  # killed in the middle of a line
        s._file.flush()
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    (orphan,) = tmp_path.glob("spool-*.log")
    spool = Spool(tmp_path, max_events=1000, name="spool-new.log")
    assert spool.depth == 25
    assert [value for _, _, value in spool.peek(100)] == [b'{"n":%d}' % i for i in range(15, 40)]
    assert not orphan.exists()


def test_a_live_process_spool_is_left_alone(tmp_path):
    owner = Spool(tmp_path, max_events=1000, name="spool-1.log")
    owner.append(messages(0, 5))
    other = Spool(tmp_path, max_events=1000, name="spool-2.log")
    assert other.depth == 0 and owner.depth == 5 and owner.path.exists()
