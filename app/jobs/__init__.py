"""Offline jobs on PySpark: seeding priors from history, exporting and backfilling the event log."""
