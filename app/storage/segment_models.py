"""Stored feature segment models, one per slot (table ``segment_models``)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from app.storage.db import Database
from bandit.segmenter import SegmenterError, check_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredModel:
    model: Dict[str, Any]
    fitted_at: datetime
    rows: int


class SegmentModelStore:
    def __init__(self, db: Database):
        self.db = db

    def save(self, tenant: str, platform: str, slot_id: str, model: Dict[str, Any], fitted_at: datetime) -> None:
        self.db.execute(
            "INSERT INTO segment_models (tenant, platform, slot_id, model, fitted_at, rows) VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, platform, slot_id, json.dumps(model, sort_keys=True), fitted_at, int(model.get("rows", 0))))

    def load(self, tenant: str, platform: str, slot_id: str) -> Optional[StoredModel]:
        """The slot's model, or None when it has none (or a stored one that does not parse: logged)."""
        row = self.db.execute(
            "SELECT model, fitted_at, rows FROM segment_models WHERE tenant = ? AND platform = ? AND slot_id = ?",
            (tenant, platform, slot_id)).one()
        if row is None or not row["model"]:
            return None
        try:
            model = check_model(json.loads(row["model"]))
        except (ValueError, SegmenterError) as error:
            # A hand-edited model must not take the slot down: decide without feature segments.
            log.warning("segment model is not valid", extra={"tenant": tenant, "slot_id": slot_id,
                                                             "error": str(error)[:200]})
            return None
        fitted_at = row["fitted_at"]
        if fitted_at is not None and fitted_at.tzinfo is None:
            fitted_at = fitted_at.replace(tzinfo=timezone.utc)
        return StoredModel(model, fitted_at, row["rows"] or 0)

    def delete(self, tenant: str, platform: str, slot_id: str) -> None:
        self.db.execute("DELETE FROM segment_models WHERE tenant = ? AND platform = ? AND slot_id = ?",
                        (tenant, platform, slot_id))
