import json
import os
import subprocess
import sys

import pytest


def _run(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "dimgrow_tf.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def test_demo_end_to_end(tmp_path):
    proc = _run("demo", "--rows", "4000", "--epochs", "2", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "total dims" in proc.stdout and "test AUC" in proc.stdout
    for name in ("signal_0", "noise_2"):
        assert name in proc.stdout
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert 0.0 <= metrics["dimgrow"]["auc"] <= 1.0
    result = json.loads((tmp_path / "o" / "search_result.json").read_text())
    assert len(result["fields"]) == 6


@pytest.mark.parametrize(
    "args, message",
    [(("demo", "--rows", "0"), "positive integer"),
     (("search", "/nonexistent/dir"), "is not a directory"),
     (("demo", "--alpha", "-1"), "--alpha must be >= 0")],
)
def test_bad_arguments_exit_2(tmp_path, args, message):
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
