"""The ``slotbandit`` command. Each command parses its options, calls library code, prints results.

Errors an operator can fix are one line on stderr and exit status 1, never a stack trace. Every
command lives in a module of this package by topic; this module registers them all, in one place.
"""
from __future__ import annotations

import click

from app.cli import (buckets, cassandra, events, insights, kafka, measure, reports, revenue, serve, simulate, spark,
                     tenants, training)
from app.cli.common import OneLineErrors


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """slotbandit: pick the banner or offer to show by Thompson sampling, learn from every click.

    Settings come from the environment (CASSANDRA_HOSTS, CASSANDRA_PORT, CASSANDRA_KEYSPACE,
    SLOTBANDIT_SECRET, SLOTBANDIT_PORT, ...; see the README). Typical first run:

    \b
      slotbandit cassandra start      # the embedded development Cassandra
      slotbandit schema apply         # keyspace and tables
      slotbandit tenant create acme   # prints the tenant's API key
      slotbandit serve                # the HTTP service on 127.0.0.1:8000
    """


COMMANDS = (
    cassandra.cassandra, cassandra.schema, cassandra.cqlsh, tenants.tenant, serve.serve, serve.demo,
    simulate.simulate, simulate.simulate_game, kafka.kafka_group, kafka.worker, spark.seed_priors,
    spark.export_events_command, spark.backfill, measure.ope, measure.export_log, insights.report,
    insights.export_segments, reports.report_schedule, reports.scheduler, revenue.attribute_command,
    training.export_training, training.segments_group, events.ingest_events, buckets.prune_buckets,
)
for _command in COMMANDS:
    main.add_command(_command)
