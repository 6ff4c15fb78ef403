"""``slotbandit tenant create|list|rotate-key|delete`` and the CLI's one-line errors, against the test Cassandra.

The commands run in-process through click's CliRunner with the environment pointing at the test
cluster and keyspace; their effect is checked in the tables and through the running app.
"""
import hashlib
import secrets
import time

import click
import pytest
from click.testing import CliRunner

from app.cli import main
from benchmarks.live_server import free_port

pytestmark = pytest.mark.integration

KEY_CACHE_WAIT_S = 5.0  # the app caches key -> tenant for 2 s (runtime.KEY_CACHE_TTL_S), plus one reload


def fresh_name() -> str:
    return f"cli-{secrets.token_hex(4)}"


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def assert_one_line_error(result, *fragments):
    """Exit status 1, nothing on stdout, exactly one line on stderr that says what went wrong."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slotbandit: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def create(cli, name: str) -> str:
    result = cli("tenant", "create", name)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def status_with_key(client, key: str, slot_id: str = "home") -> int:
    return client.get(f"/slot/{slot_id}/creative?platform=web", headers={"X-Api-Key": key}).status_code


def wait_for_status(client, key: str, expected: int, timeout_s: float = KEY_CACHE_WAIT_S) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        status = status_with_key(client, key)
        if status == expected or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def add_slot(db, tenant: str, slot_id: str = "home") -> None:
    db.execute("INSERT INTO slots (tenant, platform, slot_id) VALUES (?, ?, ?)", (tenant, "web", slot_id))
    db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, active) VALUES (?, ?, ?, ?, ?)",
               (tenant, "web", slot_id, "a", True))


# --- create --------------------------------------------------------------------------------------

def test_create_prints_the_key_last_and_stores_only_its_hash(cli, db, client):
    name = fresh_name()
    result = cli("tenant", "create", name)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("sb_") and len(key) >= 40  # "sb_" + 32 random bytes, base64url
    assert name in result.stderr  # the explanation goes to stderr, so stdout's last line is the key alone

    tenant_row = db.execute("SELECT * FROM tenants WHERE name = ?", (name,)).one()
    key_row = db.execute("SELECT * FROM api_keys WHERE key_hash = ?", (sha256(key),)).one()
    assert tenant_row["key_hash"] == sha256(key)
    assert key_row["tenant"] == name
    stored = [str(value) for row in (tenant_row, key_row) for value in row.values()]
    assert not any(key in value or key[3:] in value for value in stored)

    add_slot(db, name)
    assert status_with_key(client, key) == 200


def test_two_creates_give_two_different_keys(cli):
    assert create(cli, fresh_name()) != create(cli, fresh_name())


def test_creating_an_existing_tenant_fails_with_one_line_and_keeps_its_key(cli, db, client):
    name = fresh_name()
    key = create(cli, name)
    result = cli("tenant", "create", name)
    assert_one_line_error(result, name, "already exists")
    assert db.execute("SELECT key_hash FROM tenants WHERE name = ?", (name,)).one()["key_hash"] == sha256(key)
    add_slot(db, name)
    assert status_with_key(client, key) == 200


@pytest.mark.parametrize("name", ["Acme", "-acme", "_acme", "acme corp", "acme/1", "ac.me", "a" * 65, "", "ünï"])
def test_bad_names_fail_with_one_line(cli, db, name):
    result = cli("tenant", "create", "--", name)  # "--": a name starting with "-" is not an option
    assert_one_line_error(result, "tenant name must be", repr(name))
    if name:  # Cassandra refuses an empty partition key even in a SELECT
        assert db.execute("SELECT name FROM tenants WHERE name = ?", (name,)).one() is None


# --- list ----------------------------------------------------------------------------------------

def test_list_shows_created_tenants_with_their_creation_time(cli):
    first, second = fresh_name(), fresh_name()
    create(cli, first)
    create(cli, second)
    result = cli("tenant", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    names = [line.split("\t")[0] for line in lines]
    assert first in names and second in names
    assert names == sorted(names)
    line = lines[names.index(first)]
    assert line.split("\t")[1].startswith(f"created {time.gmtime().tm_year}-")
    assert "rotated" not in line


# --- rotate-key ----------------------------------------------------------------------------------

def test_rotate_key_revokes_the_old_key_and_the_new_one_works(cli, db, client):
    name = fresh_name()
    old = create(cli, name)
    add_slot(db, name)
    assert status_with_key(client, old) == 200  # cached by the app now

    result = cli("tenant", "rotate-key", name)
    assert result.exit_code == 0, result.output
    new = result.stdout.strip().splitlines()[-1]
    assert new.startswith("sb_") and new != old

    assert db.execute("SELECT key_hash FROM tenants WHERE name = ?", (name,)).one()["key_hash"] == sha256(new)
    assert db.execute("SELECT tenant FROM api_keys WHERE key_hash = ?", (sha256(old),)).one() is None
    assert db.execute("SELECT tenant FROM api_keys WHERE key_hash = ?", (sha256(new),)).one()["tenant"] == name
    assert status_with_key(client, new) == 200
    assert wait_for_status(client, old, 401) == 401
    assert status_with_key(client, new) == 200

    listed = [line for line in cli("tenant", "list").stdout.splitlines() if line.split("\t")[0] == name]
    assert len(listed) == 1 and "key rotated" in listed[0]


def test_rotating_an_unknown_tenant_fails_with_one_line(cli):
    assert_one_line_error(cli("tenant", "rotate-key", fresh_name()), "unknown tenant")


# --- delete --------------------------------------------------------------------------------------

def test_delete_removes_the_tenant_its_slots_and_its_key(cli, db, client):
    name = fresh_name()
    key = create(cli, name)
    add_slot(db, name, "home")
    add_slot(db, name, "side")
    db.execute("INSERT INTO slots (tenant, platform, slot_id) VALUES (?, ?, ?)", (name, "android", "home"))
    assert status_with_key(client, key) == 200

    result = cli("tenant", "delete", name, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"deleted tenant {name} (3 slots)"

    assert db.execute("SELECT name FROM tenants WHERE name = ?", (name,)).one() is None
    assert db.execute("SELECT tenant FROM api_keys WHERE key_hash = ?", (sha256(key),)).one() is None
    for platform in ("web", "android"):
        assert list(db.execute("SELECT slot_id FROM slots WHERE tenant = ? AND platform = ?", (name, platform))) == []
    for slot_id in ("home", "side"):
        assert list(db.execute("SELECT creative_id FROM creatives WHERE tenant = ? AND platform = ? AND slot_id = ?",
                               (name, "web", slot_id))) == []
    assert wait_for_status(client, key, 401) == 401
    assert name not in [line.split("\t")[0] for line in cli("tenant", "list").stdout.splitlines()]


def test_delete_without_yes_asks_and_a_no_keeps_everything(cli, db, client):
    name = fresh_name()
    key = create(cli, name)
    add_slot(db, name)
    result = cli("tenant", "delete", name, input="n\n")
    assert result.exit_code == 1
    assert db.execute("SELECT name FROM tenants WHERE name = ?", (name,)).one() is not None
    assert status_with_key(client, key) == 200


def test_deleting_an_unknown_tenant_fails_with_one_line(cli):
    name = fresh_name()
    assert_one_line_error(cli("tenant", "delete", name, "--yes"), "unknown tenant", name)


# --- other one-line errors -----------------------------------------------------------------------

def test_cassandra_start_with_external_hosts_fails_with_one_line(cli, monkeypatch):
    # Loopback hosts are the embedded server or a local cluster of it (cassandra start --nodes N).
    monkeypatch.setenv("CASSANDRA_HOSTS", "127.0.0.1,cassandra.internal")
    assert_one_line_error(cli("cassandra", "start"), "not this machine")


def test_schema_apply_without_a_cassandra_fails_with_one_line_that_says_how_to_start_one(cli, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.delenv("CASSANDRA_HOSTS", raising=False)
    monkeypatch.setenv("CASSANDRA_PORT", str(port))
    started = time.monotonic()
    result = cli("schema", "apply")
    assert_one_line_error(result, f"127.0.0.1:{port}", "slotbandit cassandra start")
    assert time.monotonic() - started < 30


def test_tenant_commands_on_a_missing_keyspace_say_to_apply_the_schema(cli, monkeypatch):
    monkeypatch.setenv("CASSANDRA_KEYSPACE", f"sbmissing_{secrets.token_hex(4)}")
    assert_one_line_error(cli("tenant", "list"), "does not exist", "slotbandit schema apply")


def test_a_malformed_setting_fails_with_one_line(cli, monkeypatch):
    monkeypatch.setenv("CASSANDRA_PORT", "ninety")
    assert_one_line_error(cli("tenant", "list"), "CASSANDRA_PORT")


# --- help ------------------------------------------------------------------------------------------

def command_paths(group: click.Group, prefix=()):
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_paths(command, prefix + (name,))
        else:
            yield prefix + (name,)


ALL_COMMANDS = list(command_paths(main))


def test_every_contract_command_exists():
    expected = {("cassandra", "start"), ("cassandra", "stop"), ("cassandra", "status"), ("schema", "apply"),
                ("tenant", "create"), ("tenant", "list"), ("tenant", "rotate-key"), ("tenant", "delete"),
                ("cqlsh",), ("serve",)}
    assert expected <= set(ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(path) or "slotbandit")
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    usage = result.stdout.splitlines()[0]
    assert usage.startswith("Usage: ") and " ".join(path) in usage, usage
    help_text = result.stdout.split("\n\n", 2)[1].strip() if "\n\n" in result.stdout else ""
    assert help_text, f"{' '.join(path)} has no help text"


def test_tenant_limit_is_stored_listed_and_checked(cli):
    name = fresh_name()
    cli("tenant", "create", name)
    assert "rate limit: default" in next(line for line in cli("tenant", "list").output.splitlines()
                                         if line.startswith(name + "\t"))
    result = cli("tenant", "limit", name, "--rps", "20", "--burst", "40")
    assert result.exit_code == 0 and "20/s, bursts of 40" in result.output
    assert "rate limit: 20/s, bursts of 40" in cli("tenant", "list").output
    assert cli("tenant", "limit", name, "--rps", "0").exit_code == 0
    assert "rate limit: none" in next(line for line in cli("tenant", "list").output.splitlines()
                                      if line.startswith(name + "\t"))
    assert_one_line_error(cli("tenant", "limit", fresh_name(), "--rps", "5"), "unknown tenant")


@pytest.mark.parametrize("args, fragment", [(["--rps", "-1"], "--rps"), (["--rps", "ten"], "--rps"),
                                            (["--rps", "5", "--burst", "0"], "--burst"), ([], "--rps")])
def test_tenant_limit_refuses_bad_numbers_in_one_line(args, fragment):
    result = CliRunner().invoke(main, ["tenant", "limit", "acme", *args], standalone_mode=True)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and fragment in lines[0], result.stderr
