"""The CQL files: statement splitting (unit) and re-runnable application (real Cassandra)."""
import pytest

from app.storage.schema import apply_schema, schema_files, split_statements


def test_split_respects_strings_and_comments():
    text = """
    -- a comment; with a semicolon
    INSERT INTO t (a, b) VALUES ('x;y', '{"k": "it''s -- not a comment"}');  // trailing
    CREATE TABLE IF NOT EXISTS u (a text PRIMARY KEY);
    """
    assert split_statements(text) == [
        "INSERT INTO t (a, b) VALUES ('x;y', '{\"k\": \"it''s -- not a comment\"}')",
        "CREATE TABLE IF NOT EXISTS u (a text PRIMARY KEY)",
    ]


def test_files_are_numbered_in_order():
    names = [path.name for path in schema_files()]
    assert names == sorted(names) and names[0] == "001_keyspace.cql"


@pytest.mark.integration
def test_schema_apply_is_rerunnable(settings, db):
    apply_schema(settings, log=lambda message: None)  # second time in this run: must not fail
    tables = {row["columnfamily_name"] for row in db.session.execute(
        "SELECT columnfamily_name FROM system.schema_columnfamilies WHERE keyspace_name = %s", (settings.keyspace,))
    } if _is_cassandra_2(db) else {row["table_name"] for row in db.session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (settings.keyspace,))}
    assert {"tenants", "api_keys", "slots", "creatives", "arm_counts", "referrer_counts", "events",
            "click_claims"} <= tables


def _is_cassandra_2(db) -> bool:
    return db.session.execute("SELECT release_version FROM system.local").one()["release_version"].startswith("2.")


@pytest.mark.integration
def test_added_columns_are_skipped_on_a_second_run(settings, db):
    logged = []
    apply_schema(settings, log=logged.append)
    # 011_offers.cql holds only ALTER TABLE ... ADD: on a schema that has them, nothing runs.
    assert "applied 011_offers.cql (0 statements)" in logged
    db.session.cluster.refresh_table_metadata(settings.keyspace, "creatives")
    columns = db.session.cluster.metadata.keyspaces[settings.keyspace].tables["creatives"].columns
    assert {"offer_type", "price"} <= set(columns)
