"""The propensity log: one row per decision with its context, action, propensity and reward.

Impressions of the event log with since <= time < until are joined to their clicks (event ids
'imp:<nonce>' and 'click:<nonce>'); a click counts when it arrived within the slot's attribution
window, so clicks are read up to until + window (never past now). The rows are what
``slotbandit ope --log`` reads.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

from app.storage.log_export import DecisionLogStore, SlotRef
from app.clock import utc

COLUMNS = ("timestamp", "tenant", "platform", "slot_id", "decision_id", "segment", "decided_by", "city",
           "customer_id", "referrer", "policy", "action", "propensity", "reward")
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class ExportFilter:
    since: datetime
    until: datetime
    tenant: Optional[str] = None
    slot_id: Optional[str] = None

    def selects(self, slot: SlotRef) -> bool:
        return (self.tenant is None or slot.tenant == self.tenant) and (
            self.slot_id is None or slot.slot_id == self.slot_id)


def context_of(event: Dict) -> str:
    """The row's context for evaluation: a named or feature segment when one decided, else the city, else global.

    Unlike the segment that decided (which moves from 'global' to 'city:pune' once the city has
    data, and is 'holdout' for holdout picks), this stays the same for the same kind of visitor.
    """
    decided_by = event["segment"] or ""
    if decided_by.startswith(("segment:", "feature:")):
        return decided_by
    if event["city"]:
        return f"city:{event['city']}"
    return "global"


def decision_rows(store: DecisionLogStore, slot: SlotRef, since: datetime, until: datetime,
                  now: datetime) -> List[Dict]:
    """The slot's decisions in [since, until) with reward 1 when clicked in the attribution window."""
    click_end = min(until + timedelta(seconds=slot.attribution_window_s), now + timedelta(seconds=1))
    impressions, clicked = [], set()
    for event in store.events(slot, since, max(click_end, until)):
        nonce = event["event_id"].split(":", 1)[-1]
        if event["kind"] == "click":
            clicked.add(nonce)
        elif event["kind"] == "impression" and utc(event["event_time"]) < until:
            impressions.append((nonce, event))
    return [_row(slot, event, nonce in clicked) for nonce, event in impressions]


def _row(slot: SlotRef, event: Dict, clicked: bool) -> Dict:
    return {
        "timestamp": utc(event["event_time"]).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "tenant": slot.tenant, "platform": slot.platform, "slot_id": slot.slot_id,
        "decision_id": event["decision_id"], "segment": context_of(event), "decided_by": event["segment"],
        "city": event["city"], "customer_id": event["customer_id"], "referrer": event["referrer"],
        "policy": event["policy"], "action": event["creative_id"], "propensity": event["propensity"],
        "reward": 1 if clicked else 0,
    }



def export(store: DecisionLogStore, selection: ExportFilter, out: Path, fmt: str,
           progress: Callable[[str], None] = lambda message: None) -> int:
    """Write the selected slots' decisions to out (CSV or Parquet); the number of rows written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, but {fmt!r} is given")
    now = datetime.now(timezone.utc)
    slots = [s for s in store.slots() if selection.selects(s)]
    if not slots:
        progress("no slot matches the selection")

    def rows() -> Iterator[Dict]:
        for number, slot in enumerate(slots, start=1):
            found = decision_rows(store, slot, selection.since, selection.until, now)
            progress(f"[{number}/{len(slots)}] {slot.tenant}/{slot.platform}/{slot.slot_id}: {len(found)} decisions")
            yield from found

    return _write_csv(rows(), out) if fmt == "csv" else _write_parquet(rows(), out)


def _write_csv(rows: Iterator[Dict], out: Path) -> int:
    count = 0
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            count += 1
    return count


def _write_parquet(rows: Iterator[Dict], out: Path) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {name: pa.string() for name in COLUMNS}
    types.update(propensity=pa.float64(), reward=pa.int8())
    columns: Dict[str, list] = {name: [] for name in COLUMNS}
    for row in rows:
        for name in COLUMNS:
            columns[name].append(row[name])
    table = pa.table({name: pa.array(values, type=types[name]) for name, values in columns.items()})
    pq.write_table(table, out)
    return table.num_rows
