"""Running wrk and reading its report: the load generator behind ``scripts/bench``.

``run_wrk`` runs one ``wrk --latency`` and returns its numbers (``parse_wrk``). For a paced run it
loads ``PACING_LUA``, which holds a request rate that wrk itself cannot set.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

PERCENTILES = ("50", "75", "90", "99")


class WrkError(Exception):
    """wrk is missing or failed; ``str(error)`` is one line for the operator."""


# --- the report -----------------------------------------------------------------------------------

TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
METRIC_SUFFIXES = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_NUMBER_UNIT = re.compile(r"^(\d+(?:\.\d+)?)([a-zA-Z]*)$")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_s: float
    latency_ms: Dict[str, float]  # '50', '75', '90', '99' (wrk --latency) and 'avg', 'max'
    thread_requests_per_s: float  # wrk's per-thread average (printed with a k/M suffix)
    non_2xx: int = 0  # wrk counts statuses above 399 here
    socket_errors: Dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


def parse_time_ms(text: str) -> float:
    """A wrk duration ('812.00us', '1.23ms', '1.02s', '2.00m') in milliseconds."""
    match = _NUMBER_UNIT.match(text.strip())
    if not match or match.group(2) not in TIME_UNITS_MS:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * TIME_UNITS_MS[match.group(2)]


def parse_metric(text: str) -> float:
    """A wrk count ('812.00', '2.01k', '1.10M') as a number."""
    match = _NUMBER_UNIT.match(text.strip())
    if not match or match.group(2) not in METRIC_SUFFIXES:
        raise ValueError(f"not a wrk count: {text!r}")
    return float(match.group(1)) * METRIC_SUFFIXES[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The numbers of one ``wrk --latency`` report (wrk 4.x text output)."""
    def find(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no line matching {pattern!r}: {output.strip()[-300:]!r}")
        return match

    latency = find(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)")
    latency_ms = {"avg": parse_time_ms(latency.group(1)), "max": parse_time_ms(latency.group(3))}
    for percentile in PERCENTILES:
        latency_ms[percentile] = parse_time_ms(find(rf"^\s*{percentile}%\s+(\S+)\s*$").group(1))
    totals = find(r"^\s*(\d+) requests in (\S+),")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(totals.group(1)),
        seconds=parse_time_ms(totals.group(2)) / 1000,
        requests_per_s=float(find(r"^Requests/sec:\s+(\S+)").group(1)),
        latency_ms=latency_ms,
        thread_requests_per_s=parse_metric(find(r"^\s*Req/Sec\s+(\S+)").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"), map(int, socket_errors.groups())))
        if socket_errors else {},
    )


# --- paced load -----------------------------------------------------------------------------------

# wrk has no rate limit, but it asks a Lua ``delay()`` hook how many ms a connection waits before
# each request. Each wrk thread here keeps a schedule of send times, one every ``interval_ms``
# (threads * 1000 / target), and a connection that is ready waits for the next free slot: the rate
# then holds whatever the answer time (a fixed wait per connection would add the answer time to
# every cycle and miss the target). A slot missed because every connection of the thread was still
# waiting for an answer is sent late, not in a burst, and counted as late. The clock is LuaJIT's
# ffi call of clock_gettime(CLOCK_MONOTONIC); wrk truncates the delay to whole ms, so it is
# rounded up or down at random to keep the mean exact.
#
# How latency is measured at this load: wrk starts a request's clock when it writes the request,
# after the delay (src/wrk.c, socket_writeable sets c->start once the delay timer has fired), and
# stops it when the response is complete. So the percentiles are the service's answer times at
# the paced rate, without the pacing wait; the time a late request spent behind schedule is not
# in them (hence the late count). wrk 4 adds synthetic samples only for latencies above twice a
# connection's mean cycle (connections * 1000 / rate ms).
PACING_LUA = """\
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} slotbandit_timespec;
int clock_gettime(int clk_id, slotbandit_timespec *tp);
]]
local interval_ms = {interval_ms:.6f}
local thread_count = {threads}
local now_spec = ffi.new("slotbandit_timespec")
local threads = {{}}
local next_ms = nil
sent, late = 0, 0

local function now_ms()
  ffi.C.clock_gettime(1, now_spec)
  return tonumber(now_spec.tv_sec) * 1000 + tonumber(now_spec.tv_nsec) / 1e6
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function delay()
  local now = now_ms()
  if next_ms == nil then
    next_ms = now + interval_ms * thread_number / thread_count  -- threads interleave their slots
  end
  sent = sent + 1
  if next_ms < now then
    late = late + 1
    next_ms = now
  end
  local wait = next_ms - now
  next_ms = next_ms + interval_ms
  local whole = math.floor(wait)
  if math.random() < wait - whole then whole = whole + 1 end
  return whole
end

function done(summary, latency, requests)
  local all_sent, all_late = 0, 0
  for _, thread in ipairs(threads) do
    all_sent = all_sent + thread:get("sent")
    all_late = all_late + thread:get("late")
  end
  io.write(string.format("Paced: %d sent, %d late\\n", all_sent, all_late))
end
"""
PACED_LINE = re.compile(r"^Paced: (\d+) sent, (\d+) late$", re.MULTILINE)


def pacing_interval_ms(target_per_s: float, threads: int) -> float:
    """Time between two sends of one wrk thread, so that ``threads`` threads together send ``target_per_s``."""
    if target_per_s <= 0 or threads <= 0:
        raise ValueError(f"target_per_s and threads must be positive, but {target_per_s} and {threads} are given")
    return threads * 1000.0 / target_per_s


def parse_paced(output: str) -> Dict[str, int]:
    """The sent and late counts the pacing script prints at the end of a paced wrk run."""
    match = PACED_LINE.search(output)
    if match is None:
        raise ValueError("wrk output has no 'Paced:' line: was the pacing script loaded?")
    return {"sent": int(match.group(1)), "late": int(match.group(2))}


# --- running it -----------------------------------------------------------------------------------

def run_wrk(url: str, headers: Dict[str, str], threads: int, connections: int, duration_s: int,
            script: Optional[Path] = None) -> Tuple[WrkResult, str]:
    """One ``wrk --latency`` run: its parsed report and its raw output."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    try:
        done = subprocess.run(command + [url], capture_output=True, text=True, timeout=duration_s + 60)
    except FileNotFoundError:
        raise WrkError("wrk not found: install it (apt-get install wrk)") from None
    except subprocess.TimeoutExpired:
        raise WrkError(f"wrk did not finish a {duration_s} s run within {duration_s + 60} s") from None
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}")
    try:
        return parse_wrk(done.stdout), done.stdout
    except ValueError as error:
        raise WrkError(str(error)) from None
