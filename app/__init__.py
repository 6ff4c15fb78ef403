"""slotbandit: the service and its tools. The decision science is the ``bandit`` package.

Subpackages by role (ARCHITECTURE.md draws the direction of their imports):

    storage     every CQL statement and driver import: sessions, schema, one store per concept
    stream      Kafka mode: the publisher of the service and the stream worker
    service     request logic without Flask: choose a creative, count a click, stats, ingest
    api         Flask: the app factory, blueprints, auth, validation, JSON errors, OpenAPI
    jobs        offline jobs (PySpark): priors from history, event-log export and backfill
    measure     the propensity log and the inputs of off-policy evaluation
    insights    reports, the dashboard's data and segment exports
    cli         the ``slotbandit`` command
    devservers  the embedded Cassandra and Kafka-protocol broker, the demo tenant

Importing this package loads nothing else: the stream worker and the Spark jobs stay free of Flask.
"""
