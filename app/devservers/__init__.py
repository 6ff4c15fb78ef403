"""Development servers run from the project's own folders: Cassandra, a Kafka-protocol broker, the demo
tenant. Only the command line uses them; the service never imports them."""
