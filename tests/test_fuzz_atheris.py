"""Runs the atheris webhook fuzz target for a bounded time in CI (hypothesis without atheris).

With atheris installed the target runs as a subprocess for 8 s of libFuzzer
on a throw-away copy of the seed corpus; any crash fails the test and leaves
its input under the test's temporary folder.  Without atheris the same
``fuzz_one_input`` runs under hypothesis on seed mutations and random bytes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.fuzz_webhook import fuzz_one_input
from fuzz.webhook_strategies import CORPUS, SEED_BYTES, mutated_bodies, mutated_bytes

FUZZ_DIR = Path(__file__).parent / "fuzz"
TARGET = FUZZ_DIR / "fuzz_webhook.py"
SECONDS = 8
HAVE_ATHERIS = importlib.util.find_spec("atheris") is not None


def test_seed_corpus_passes_the_target() -> None:
    assert len(SEED_BYTES) >= 10
    for name, raw in SEED_BYTES.items():
        fuzz_one_input(raw)  # every seed is a valid body that builds rows
        assert orjson.loads(raw)["object"] == "whatsapp_business_account", name


@pytest.mark.skipif(not HAVE_ATHERIS, reason="atheris not installed: hypothesis fallback runs")
def test_atheris_finds_no_new_crash(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)  # libFuzzer adds inputs to it: never the seeds in git
    cmd = [
        sys.executable,
        str(TARGET),
        f"-max_total_time={SECONDS}",
        f"-dict={FUZZ_DIR / 'webhook.dict'}",
        f"-artifact_prefix={tmp_path}/",
        "-rss_limit_mb=2048",
        "-timeout=10",
        "-print_final_stats=1",
        "-seed=1",  # reproducible in CI; explore with other seeds by hand
        str(corpus),
    ]
    env = {k: v for k, v in os.environ.items() if k != "AMAN_FUZZ_STRICT"}
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SECONDS + 90
    )
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "leak-")))
    assert proc.returncode == 0 and not crashes, (crashes, proc.stderr[-3000:])
    assert "Done" in proc.stderr
    assert len(list(corpus.iterdir())) >= len(SEED_BYTES)


@pytest.mark.skipif(HAVE_ATHERIS, reason="atheris is installed: the libFuzzer run covers this")
@settings(deadline=None, database=None, max_examples=400, suppress_health_check=list(HealthCheck))
@given(data=mutated_bytes() | mutated_bodies().map(orjson.dumps) | st.binary(max_size=300))
def test_target_under_hypothesis(data: bytes) -> None:
    fuzz_one_input(data)
