"""The generation benchmark in its shortest mode: real servers, every figure measured and checked
against its bar (the verdicts themselves depend on the machine)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="the embeddings cells need wrk (apt-get install -y wrk)")
def test_one_short_repeat_measures_every_bar(tmp_path: Path) -> None:
    output = tmp_path / "generation.json"
    done = subprocess.run([sys.executable, "-m", "scripts.bench.generation", "--repeats", "1", "--requests", "1",
                           "--concurrency", "4", "--lengths", "4:8", "--duration", "1", "--workers", "1",
                           "--output", str(output)], cwd=REPO, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    medians = report["medians"]
    assert medians["single_tokens_per_s"] > 0 and medians["batched_tokens_per_s"] > 0
    assert medians["tokens_ratio"] == pytest.approx(medians["batched_tokens_per_s"] / medians["single_tokens_per_s"])
    assert 0 <= medians["first_chunk_within_5ms"] <= 1 and medians["v2_sentences_per_s"] > 0
    assert [bar["bar"].split()[0] for bar in report["bars"]] == ["tokens/s", "TTFT", "first", "embeddings"]
    assert "met" in done.stdout
