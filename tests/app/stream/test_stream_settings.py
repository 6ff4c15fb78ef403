"""Kafka-mode settings: validated at start-up, one clear line each."""
from __future__ import annotations

import pytest

from app.settings import Settings, SettingsError


def test_defaults_leave_kafka_mode_off():
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap_servers is None
    assert settings.kafka_topic_prefix == "slotbandit." and settings.spool_max_events == 200_000


def test_kafka_settings_are_read():
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k1:9092, k2:9093", "SLOTBANDIT_KAFKA_TOPIC_PREFIX": "prod.",
                                  "SLOTBANDIT_SPOOL_MAX_EVENTS": "50000", "SLOTBANDIT_SPOOL_DIR": "/tmp/sb-spool"})
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9093"
    assert settings.kafka_topic_prefix == "prod." and settings.spool_max_events == 50_000
    assert str(settings.spool_dir) == "/tmp/sb-spool"


@pytest.mark.parametrize("env, message", [
    ({"KAFKA_BOOTSTRAP_SERVERS": "localhost"}, "KAFKA_BOOTSTRAP_SERVERS must be a comma list of host:port"),
    ({"SLOTBANDIT_KAFKA_TOPIC_PREFIX": "a b"}, "SLOTBANDIT_KAFKA_TOPIC_PREFIX may hold only"),
    ({"SLOTBANDIT_SPOOL_MAX_EVENTS": "10"}, "SLOTBANDIT_SPOOL_MAX_EVENTS must be an integer between 1000"),
    ({"SLOTBANDIT_KAFKA_PORT": "x"}, "SLOTBANDIT_KAFKA_PORT must be an integer"),
])
def test_malformed_values_fail_with_one_line(env, message):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
