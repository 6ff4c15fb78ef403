"""``slotbandit kafka start|stop|status`` (the development broker) and ``slotbandit worker``."""
from __future__ import annotations

import importlib.util
import logging
import signal
import sys
import threading
from typing import Optional

import click

from app.cli.common import CliError, connect, load_settings


@click.group("kafka")
def kafka_group() -> None:
    """The embedded development Kafka broker (Tansu, in-memory) on 127.0.0.1:SLOTBANDIT_KAFKA_PORT
    (19092). Not for production: a restart loses its topics. Point KAFKA_BOOTSTRAP_SERVERS at it,
    e.g. `export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092`."""


def require_kafka_client() -> None:
    """One line naming the install when the kafka extra is missing, before anything starts."""
    if importlib.util.find_spec("kafka") is None:
        raise CliError("the Kafka commands need the kafka extra: pip install 'slotbandit[kafka]'")


def _broker(port: Optional[int] = None):
    from app.devservers.kafka import EmbeddedKafka

    settings = load_settings()
    return EmbeddedKafka(port=port or settings.kafka_port, data_dir=settings.cassandra_data_dir.parent / "kafka",
                         cache_dir=settings.cache_dir)


@kafka_group.command("start")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default SLOTBANDIT_KAFKA_PORT, 19092).")
@click.option("--watch-pid", type=int, default=None, help="Stop the broker when this process exits.")
@click.option("--wait", "wait_s", type=click.FloatRange(1, 600), default=30, show_default=True,
              help="Seconds to wait for the broker to answer.")
def kafka_start(port: Optional[int], watch_pid: Optional[int], wait_s: float) -> None:
    """Start the broker and return once it answers Kafka requests (downloads it once into .cache/)."""
    from app.devservers.kafka import EmbeddedKafkaError

    require_kafka_client()
    broker = _broker(port)
    try:
        pid = broker.start(wait_s=wait_s, watch_pid=watch_pid, log=lambda m: click.echo(m, err=True))
    except EmbeddedKafkaError as error:
        raise CliError(str(error)) from None
    click.echo(f"kafka broker running (pid {pid}, 127.0.0.1:{broker.port})")


@kafka_group.command("stop")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default SLOTBANDIT_KAFKA_PORT, 19092).")
def kafka_stop(port: Optional[int]) -> None:
    """Stop the broker; no process is left behind."""
    stopped = _broker(port).stop(log=lambda m: click.echo(m, err=True))
    click.echo("kafka broker stopped" if stopped else "kafka broker was not running")


@kafka_group.command("status")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default SLOTBANDIT_KAFKA_PORT, 19092).")
def kafka_status(port: Optional[int]) -> None:
    """Say whether the broker runs; exit 1 when it does not."""
    broker = _broker(port)
    pid = broker.running_pid()
    click.echo(f"kafka broker {'running' if pid else 'stopped'} (pid {pid}, 127.0.0.1:{broker.port})")
    if pid is None:
        sys.exit(1)


@click.command("worker")
@click.option("--group", default="slotbandit-workers", show_default=True,
              help="Consumer group; workers with the same group share the topics' partitions.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=9108, show_default=True,
              help="Serve Prometheus metrics (lag, applied, duplicates, dead letters) on 127.0.0.1:PORT; 0 = off.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address of the metrics endpoint.")
def worker(group: str, metrics_port: int, metrics_host: str) -> None:
    """Apply impressions and clicks from Kafka to Cassandra, exactly once.

    Reads <prefix>impressions and <prefix>clicks (SLOTBANDIT_KAFKA_TOPIC_PREFIX, default
    'slotbandit.') from KAFKA_BOOTSTRAP_SERVERS. Offsets are committed only after the effect is
    in Cassandra; replays are recognised by event id. Malformed messages and unknown tenants go to
    <prefix>dead-letter. Start as many as you like with the same --group. SIGTERM or Ctrl-C stops
    it after the current round.

    \b
      KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 slotbandit worker --metrics-port 9108
    """
    settings = load_settings()
    if not settings.kafka_bootstrap_servers:
        raise CliError("KAFKA_BOOTSTRAP_SERVERS is not set: point it at the broker, e.g. 127.0.0.1:19092")
    require_kafka_client()
    from app.devservers.kafka import broker_answers
    from app.stream.worker import Worker

    if not broker_answers(settings.kafka_bootstrap_servers, timeout_s=5):
        raise CliError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: start it with "
                       "`slotbandit kafka start` or check KAFKA_BOOTSTRAP_SERVERS")
    db = connect(settings)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "cassandra"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(metrics_port, addr=metrics_host)
        except OSError as error:
            raise CliError(f"cannot serve metrics on {metrics_host}:{metrics_port}: {error.strerror}") from None
    runner = Worker(settings, db, group=group, progress=lambda m: click.echo(f"worker: {m}", err=True))
    _stop_on_signals(runner.stop_requested)
    click.echo(f"worker: consuming {runner.topics.impressions}, {runner.topics.clicks} as group {group!r}"
               + (f"; metrics on http://{metrics_host}:{metrics_port}/metrics" if metrics_port else ""), err=True)
    try:
        runner.run()
    finally:
        db.shutdown()
    click.echo(f"worker: stopped; applied {runner.totals.applied}, duplicates {runner.totals.duplicates}, "
               f"dead letters {runner.dead_letters}", err=True)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
