"""schemathesis with every check against a real ``slotbandit serve``: the OpenAPI document and the
service agree on every operation (what is valid is accepted, what is not is refused with a 4xx,
every answer is declared, undeclared methods answer 405 with ``Allow``).

Seeded and bounded so that a run is reproducible and takes well under a minute. The tenant is
unlimited and owns the slot ``home-banner`` on ``web`` that the document's examples name, so that
generated requests reach the views' work and not only their 404s.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.live_server import LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SEED = 19
MAX_EXAMPLES = int(os.environ.get("SLOTBANDIT_TEST_FUZZ_EXAMPLES", "100"))


def run_schemathesis(url: str, api_key: str, workdir: Path) -> subprocess.CompletedProcess:
    """One seeded run; ``workdir`` receives what schemathesis keeps between runs (not the checkout)."""
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json",
               "-H", f"X-Api-Key: {api_key}", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
               "--phases", "examples,coverage,fuzzing", "--seed", str(SEED), "--workers", "1",
               "--no-color", "--generation-database", "none", "--request-timeout", "10"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=workdir)


def passed_cases(output: str) -> int:
    """How many generated test cases passed, from the summary line "N generated, N passed"."""
    match = re.search(r"(\d+) generated, (\d+) passed", output)
    return int(match.group(2)) if match else 0


def test_schemathesis_finds_no_failure_on_any_operation(settings, tenant, tmp_path):
    tenant.add_slot("home-banner", creatives=["a", "b"])  # the document's examples name this slot
    server = LiveServer(settings, workers=2).start()
    try:
        result = run_schemathesis(server.url, tenant.key, tmp_path)
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]  # a failed check, an error or a 5xx: non-zero
    assert passed_cases(output) >= 300, output[-3000:]  # it did test the operations
    print(f"schemathesis: {passed_cases(output)} test cases passed")
