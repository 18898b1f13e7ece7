"""bench/dashboard.py still runs in its tiny --quick mode and ends with one RESULT line (as
tests/test_bench_smoke.py does for the other benches; PASS/FAIL means nothing at this size)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_dashboard_bench_runs_and_ends_with_one_result_line():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dashboard.py"), "--quick"],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = completed.stdout.strip().splitlines()
    assert [line for line in lines if line.startswith("RESULT")] == lines[-1:], completed.stderr
    # Exit status 1 on FAIL, 0 on PASS (`make bench` stops on a FAIL), nothing else.
    assert completed.returncode == (0 if lines[-1].endswith(" PASS") else 1), completed.stderr
    result = r"RESULT dashboard overhead_ms=\d+\.\d\d target<=2\.0 (PASS|FAIL)"
    assert re.fullmatch(result, lines[-1])
    assert "query count flat across sizes: yes" in completed.stdout
