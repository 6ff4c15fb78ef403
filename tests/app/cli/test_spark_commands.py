"""The Spark commands check their inputs before Spark starts: a mistake costs a line, not a JVM.

Spark is replaced by a trap here (a unit-level stand-in: these tests are about what happens
*before* Spark); tests/app/jobs run the same commands on a real local SparkSession.
"""
import pytest

from tests.app.cli.test_tenants import assert_one_line_error

pytestmark = pytest.mark.integration

SINCE, UNTIL = "2026-11-01", "2026-11-08"


@pytest.fixture
def no_spark(monkeypatch):
    """Fail the test if a command asks for a SparkSession."""
    import app.jobs.spark

    def trap(*args, **kwargs):
        raise AssertionError("Spark was started before the inputs were checked")
    monkeypatch.setattr(app.jobs.spark, "spark_session", trap)


def _csv(path, header, row):
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    return path


@pytest.mark.parametrize("args, fragment", [
    (("--history", "/nonexistent/h.csv"), "does not exist"),
    (("--history", "{bad}"), "needs either"),
    (("--history", "{empty_dir}"), "no .csv or .parquet"),
    (("--history", "{not_parquet}"), "cannot read history"),
    (("--history", "{good}", "--slot", "nope"), "has no slot"),
    (("--history", "{good}", "--tenant", "no-such-tenant"), "has no slot"),
])
def test_seed_priors_checks_its_inputs_before_spark(cli, tenant, tmp_path, no_spark, args, fragment):
    tenant.add_slot("home", creatives=("a",))
    files = {
        "bad": _csv(tmp_path / "bad.csv", ["foo", "bar"], ["x", "y"]),
        "good": _csv(tmp_path / "good.csv", ["platform", "slot_id", "creative_id", "city", "impressions", "clicks"],
                     ["web", "home", "a", "pune", "10", "1"]),
        "empty_dir": tmp_path / "empty",
        "not_parquet": tmp_path / "h.parquet",
    }
    files["empty_dir"].mkdir()
    files["not_parquet"].write_text("platform,slot_id\n")
    args = [a.format(**files) for a in args]
    base = {"--tenant": tenant.name, "--platform": "web", "--slot": "home"}
    for name, value in base.items():
        if name not in args:
            args += [name, value]
    assert_one_line_error(cli("seed-priors", *args), fragment)


@pytest.mark.parametrize("args, fragment", [
    (("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", "no-such-tenant"), "no slots found"),
    (("export-events", "--since", SINCE, "--until", UNTIL, "--out", "{full}"), "already exists"),
    (("export-events", "--since", SINCE, "--until", UNTIL, "--out", "/nonexistent/dir/out"), "parent directory"),
    (("export-events", "--since", SINCE, "--until", UNTIL, "--out", "{new}", "--tenant", "no-such-tenant"),
     "no slots found"),
])
def test_log_jobs_check_their_inputs_before_spark(cli, tmp_path, no_spark, args, fragment):
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    args = [a.format(full=full, new=tmp_path / "new") for a in args]
    assert_one_line_error(cli(*args), fragment)


def test_verbose_is_documented(cli):
    for command in ("seed-priors", "export-events", "backfill"):
        result = cli(command, "--help")
        assert result.exit_code == 0
        assert "--verbose" in result.stdout and "Spark's own" in result.stdout
