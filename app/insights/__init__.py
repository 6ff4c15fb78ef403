"""What a slot did and learned, for people: reports, the dashboard and segment exports.

Numbers come from the same places as ``GET /slot/<id>/stats`` (``app.service.slot_stats``: counters and their
posteriors) and from the event log over a period (``app.storage.history``).
"""
