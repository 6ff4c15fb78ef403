"""``slotbandit simulate-game``: the table, progress on stderr, one-line errors."""
from click.testing import CliRunner

from app.cli import main


def run(*args):
    return CliRunner().invoke(main, ["simulate-game", *args], catch_exceptions=False)


def test_prints_one_line_per_policy_and_progress_on_stderr():
    result = run("--customers", "200", "--days", "2", "--seed", "4")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "200 players, 2 days, seed 4: net revenue = purchases - refunds"
    assert lines[1].split() == ["policy", "shown", "clicks", "buys", "refunded", "net", "casual", "regular", "whale"]
    assert [line.split()[0] for line in lines[3:6]] == ["revenue", "clicks", "uniform"]
    assert "revenue policy vs clicks" in result.stdout
    assert "revenue: day 2 of 2" in result.stderr
    assert run("--customers", "200", "--days", "2", "--seed", "4").stdout == result.stdout


def test_bad_input_is_one_line():
    for args, fragment in ((("--customers", "0"), "--customers must be between 1 and 100000, but 0"),
                           (("--days", "-1"), "--days must be more than 0 and at most 60, but -1"),
                           (("--days", "x"), "'x' is not a valid float")):
        result = CliRunner().invoke(main, ["simulate-game", *args])
        assert result.exit_code != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("slotbandit: ") and fragment in lines[0], result.stderr


def test_help_explains_the_policies():
    result = run("--help")
    assert result.exit_code == 0
    for word in ("revenue", "clicks", "uniform", "--customers", "--days", "--seed", "refund"):
        assert word in result.stdout
