"""The benchmarks in bench/ still run, in their tiny --quick mode, and end with a RESULT line.

They run as `make bench` runs them: separate processes, on throw-away databases of their own (on
DATABASE_URL's server when it is set, else temporary SQLite files), one after the other. PASS/FAIL
is not checked (timings at these sizes mean nothing), only that the
exit status says the same as the RESULT line. The load bench is the exception: its RESULT
counts errors and lost writes, which mean something at any size.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.moments.conftest import trained_model_path  # noqa: F401 (the load bench's model)

ROOT = Path(__file__).resolve().parent.parent
BENCHES = {"timeline": "1.3", "search": "2.0"}  # name: target
# A bench's database is named after it: one test process runs them all (CI runs two, with
# pytest-xdist --dist loadgroup), so that no bench drops the database of the same bench running.
# Each test starts its own bench and waits for its end. Module fixtures used to start two at
# once and kill them at teardown; in CI with two test processes, two runs of the same benches
# then overlapped once, and the second's CREATE DATABASE failed ("already exists").
pytestmark = pytest.mark.xdist_group("bench-databases")


def run_bench(name: str, *args: str, timeout: float) -> tuple[subprocess.CompletedProcess, list]:
    """Run bench/<name>.py with ``args`` to its end; the process and its stdout's lines."""
    process = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return process, process.stdout.strip().splitlines()


@pytest.mark.parametrize("bench", list(BENCHES))
def test_bench_runs_and_ends_with_one_result_line(bench):
    process, lines = run_bench(bench, "--quick", timeout=300)

    assert lines, process.stderr
    assert [line for line in lines if line.startswith("RESULT")] == lines[-1:], process.stderr
    # Exit status 1 on FAIL, 0 on PASS (`make bench` stops on a FAIL), nothing else.
    assert process.returncode == (0 if lines[-1].endswith(" PASS") else 1), process.stderr
    target = re.escape(BENCHES[bench])
    assert re.fullmatch(rf"RESULT {bench} ratio=\d+\.\d\d target<={target} (PASS|FAIL)", lines[-1])


@pytest.mark.cluster
def test_load_bench_runs_without_errors(trained_model_path):  # noqa: F811
    # Gunicorn, a django-q2 cluster with the test model and the load generator, for seconds.
    process, lines = run_bench("load", "--quick", "--model", str(trained_model_path), timeout=900)
    assert [line for line in lines if line.startswith("RESULT")] == lines[-1:], process.stderr
    assert lines[-1] == "RESULT load errors=0 target<=0 PASS", process.stdout
    assert process.returncode == 0


def test_survey_bench_loses_and_duplicates_no_answer():
    # Real gunicorn, answers and their concurrent duplicates (a double click from the other
    # client process): every acknowledged answer is stored exactly once. The ratio's PASS/FAIL
    # is not checked at this size, only that the line is there.
    process, lines = run_bench("survey", "--quick", timeout=180)
    assert lines, process.stderr
    assert process.returncode == (0 if lines[-1].endswith(" PASS") else 1), process.stderr
    assert re.fullmatch(r"RESULT survey ratio=\d+\.\d\d target>=0\.5 (PASS|FAIL)", lines[-1])
    stored = next(line for line in lines if line.startswith("answers: "))
    assert re.search(r"responses stored (\d+); lost 0; duplicated 0; failed statuses none", stored)
    assert "76 tokens, 8 duplicate submits; responses stored 76;" in stored


def test_ingest_bench_stores_each_message_exactly_once():
    # A real Dovecot, the real poller, then two pollers at once on another mailbox: every
    # message recorded once. The ratio's PASS/FAIL is not checked at this size.
    process, lines = run_bench("ingest", "--quick", timeout=180)
    assert lines, process.stderr
    assert process.returncode == (0 if lines[-1].endswith(" PASS") else 1), process.stderr
    assert re.fullmatch(r"RESULT ingest ratio=\d+\.\d\d target>=0\.5 (PASS|FAIL)", lines[-1])
    assert "exactly once with two pollers: yes" in lines


def test_ingest_bench_runs_through_a_slow_link():
    # --rtt-ms puts a relay (bench/_slow_link.py) between the pollers and Dovecot.
    process, lines = run_bench("ingest", "--quick", "--rtt-ms", "4", "--mbit", "50", timeout=180)
    assert lines, process.stderr
    assert any(
        line.startswith("Dovecot over a relay of 4 ms round trip, 50 Mbit/s;") for line in lines
    )
    assert "exactly once with two pollers: yes" in lines
    assert re.fullmatch(r"RESULT ingest ratio=\d+\.\d\d target>=0\.5 (PASS|FAIL)", lines[-1])


def _result(name: str, *args: str, timeout: float) -> tuple[list[str], str]:
    process, lines = run_bench(name, *args, timeout=timeout)
    assert lines, process.stderr
    assert [line for line in lines if line.startswith("RESULT")] == lines[-1:], process.stderr
    # Exit status 1 on FAIL, 0 on PASS, nothing else (a crash is neither).
    assert process.returncode == (0 if lines[-1].endswith(" PASS") else 1), process.stderr
    return lines, process.stdout


def test_moments_bench_runs_through_the_api_and_ends_with_one_result_line(
    trained_model_path,  # noqa: F811
):
    # bench/moments.py on 3 journeys: through the API, the real test model, the tasks run as
    # a worker runs them.
    lines, stdout = _result("moments", "--quick", "--model", str(trained_model_path), timeout=300)

    assert re.fullmatch(r"RESULT moments f1=\d\.\d\d target>=0\.75 (PASS|FAIL)", lines[-1])
    # The quick subset of moments.json: 3 journeys, 27 interactions, every one scored.
    assert "through the API: 3 customers, 27 interactions" in stdout
    assert "moments.sentiment.tasks.score_interactions x27" in stdout
    assert re.search(r"^naive \|score\| >= 0\.6 ", stdout, re.MULTILINE)
    assert "false positives by detection reason" in stdout


def test_memory_fit_bench_runs_and_ends_with_one_result_line():
    lines, stdout = _result("memory_fit", "--quick", timeout=300)  # 300 answers

    assert re.fullmatch(
        r"RESULT memory_fit auc_gap=-?\d\.\d{4} target<=0\.02 (PASS|FAIL)", lines[-1]
    )
    assert "oracle (true parameters)" in stdout
    assert "product defaults, pick rate fitted" in stdout
