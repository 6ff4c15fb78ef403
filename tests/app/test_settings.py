"""Settings: defaults, and one clear line for every malformed value."""
import subprocess
import sys

import pytest

from app.settings import DEFAULT_REPLICATION, Settings, SettingsError


def test_defaults_use_the_embedded_server_with_protocol_3():
    settings = Settings.from_env({})
    assert settings.embedded and settings.contact_points == ("127.0.0.1",)
    assert settings.cassandra_port == 9042 and settings.keyspace == "slotbandit" and settings.port == 8000
    assert settings.effective_protocol_version == 3
    assert settings.replication == DEFAULT_REPLICATION
    assert settings.cassandra_jit == "full"
    assert Settings.from_env({"SLOTBANDIT_CASSANDRA_JIT": "quick"}).cassandra_jit == "quick"


def test_external_cluster_negotiates_the_protocol():
    settings = Settings.from_env({"CASSANDRA_HOSTS": "10.0.0.1, 10.0.0.2", "CASSANDRA_PROTOCOL_VERSION": ""})
    assert settings.contact_points == ("10.0.0.1", "10.0.0.2") and settings.effective_protocol_version is None
    assert Settings.from_env({"CASSANDRA_HOSTS": "h", "CASSANDRA_PROTOCOL_VERSION": "4"}).protocol_version == 4


@pytest.mark.parametrize("env, fragment", [
    ({"CASSANDRA_PORT": "abc"}, "CASSANDRA_PORT must be an integer"),
    ({"CASSANDRA_PORT": "70000"}, "between 1 and 65535"),
    ({"CASSANDRA_KEYSPACE": "drop table;"}, "CASSANDRA_KEYSPACE"),
    ({"CASSANDRA_REPLICATION": "{'class': 'SimpleStrategy'); DROP"}, "CASSANDRA_REPLICATION must be a CQL map"),
    ({"CASSANDRA_PROTOCOL_VERSION": "x"}, "CASSANDRA_PROTOCOL_VERSION"),
    ({"SLOTBANDIT_SECRET": "short"}, "at least 16"),
    ({"SLOTBANDIT_PORT": "-1"}, "SLOTBANDIT_PORT"),
    ({"CASSANDRA_USERNAME": "u"}, "set together"),
    ({"SLOTBANDIT_CONFIG_REFRESH_S": "10"}, "SLOTBANDIT_CONFIG_REFRESH_S"),
    ({"SLOTBANDIT_CASSANDRA_JIT": "c2"}, "SLOTBANDIT_CASSANDRA_JIT must be one of QUICK, FULL"),
])
def test_malformed_settings_fail_with_one_line(env, fragment):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_serve_without_secret_is_one_line_and_exit_1():
    env = {"PATH": "/usr/bin:/bin", "CASSANDRA_PORT": "1"}
    result = subprocess.run([sys.executable, "-m", "app.cli", "serve"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "slotbandit: SLOTBANDIT_SECRET is not set: set it to a random string of at least 16 characters "
        "(it signs decision ids; every worker must share it)"]


def test_bad_setting_on_the_command_line_is_one_line():
    result = subprocess.run([sys.executable, "-m", "app.cli", "tenant", "list"],
                            env={"PATH": "/usr/bin:/bin", "CASSANDRA_PORT": "nope"}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "slotbandit: CASSANDRA_PORT must be an integer between 1 and 65535, but 'nope' is given"
