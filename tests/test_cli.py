import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from dimgrow_tf.data.datasets import load_split_dir
from dimgrow_tf.data.synthetic import make_synthetic_ctr
from dimgrow_tf.data.synthetic import split_rows
from dimgrow_tf.export.compact_model import compact_model
from dimgrow_tf.models.search_and_retrain import evaluate


RESIZE_LINE = re.compile(r"^Step \d+: DimGrow (grow|shrink) \S+ \d+ -> \d+$", re.M)
DIMS_TABLE = re.compile(r"^field +vocab +dim  gates at the best epoch$(\n.*)+?\ntotal dims \d+",
                        re.M)


def _dimgrow():
    """The installed `dimgrow` console script, as a user runs it (else `python -m`)."""
    script = os.path.join(os.path.dirname(sys.executable), "dimgrow")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "dimgrow_tf.cli"]


def _run(*args, cwd):
    # Like a user's shell or CI: stdout and stderr piped (no tty), no stdin.
    return subprocess.run(
        [*_dimgrow(), *map(str, args)], cwd=cwd, env=dict(os.environ),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
    )


def _split_dir(path):
    features, labels, fields = make_synthetic_ctr(num_rows=3000, vocab_size=50, seed=2)
    path.mkdir()
    (path / "stats.json").write_text(json.dumps(
        {"fields": [f.name for f in fields], "vocab": {f.name: f.vocab_size for f in fields}}))
    for split, (x, y) in zip(("train", "valid", "test"), split_rows(features, labels)):
        table = np.column_stack([y.astype(int)] + [x[f.name] for f in fields])
        header = ",".join(["label"] + [f.name for f in fields])
        np.savetxt(path / f"{split}.csv", table, fmt="%d", delimiter=",", header=header, comments="")
    return fields


def test_demo_with_default_arguments_resizes_exports_and_answers(tmp_path):
    # README's `dimgrow demo`: default size and verbosity (progress bars, resize lines).
    proc = _run("demo", "--out", tmp_path / "o", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"Epoch 1/{dg.TrainSettings.epochs}" in proc.stdout
    resizes = RESIZE_LINE.findall(proc.stdout)
    assert len(resizes) >= 2 and "grow" in resizes, proc.stdout[-3000:]
    assert re.search(r"^Search: \d+ epochs, [1-9]\d* resizes", proc.stdout, re.M)
    assert DIMS_TABLE.search(proc.stdout), proc.stdout[-3000:]
    assert "uniform-16 AUC" in proc.stdout
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0.0 < answer["probability"] < 1.0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert 0.0 <= metrics["dimgrow"]["auc"] <= 1.0 and "uniform16" in metrics
    # --final-model best: the export is the model with the higher validation AUC.
    valid = {"searched": metrics["searched_folded"]["valid_auc"],
             "retrained": metrics["dimgrow"]["valid_auc"]}
    kept = "searched" if valid["searched"] > valid["retrained"] else "retrained"
    assert metrics["final_model"] == kept
    assert f"Exporting the {kept} model" in proc.stdout
    assert os.path.isdir(tmp_path / "o" / "export" / "dimgrow" / "1")


def test_search_retrain_report_on_a_split_directory(tmp_path):
    fields = _split_dir(tmp_path / "data")
    out = tmp_path / "run"
    # Default verbosity: progress bars, and the callback prints each resize.
    proc = _run("search", tmp_path / "data", "--epochs", "2", "--check-every", "5",
                "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Epoch 1/2" in proc.stdout and DIMS_TABLE.search(proc.stdout), proc.stdout[-3000:]
    resizes = int(re.search(r"^Search: \d+ epochs, (\d+) resizes", proc.stdout, re.M).group(1))
    assert (resizes > 0) == bool(RESIZE_LINE.search(proc.stdout))
    result = json.loads((out / "search_result.json").read_text())
    assert [f["name"] for f in result["fields"]] == [f.name for f in fields]
    assert (out / "search_model.keras").is_file()
    # The searched model's own AUC is that of what `dimgrow export` serves: the
    # search model folded at the final dims of search_result.json.
    searched = json.loads((out / "search_metrics.json").read_text())["searched_folded"]
    search_result = dg.SearchResult.load(str(out / "search_result.json"))
    assert searched["total_dims"] == search_result.total_dims
    compact = compact_model(keras.saving.load_model(str(out / "search_model.keras")),
                            result=search_result)
    _, splits = load_split_dir(str(tmp_path / "data"))
    assert searched["auc"] == pytest.approx(evaluate(compact, splits["test"])["auc"], abs=1e-6)
    proc = _run("retrain", tmp_path / "data", "--result", out / "search_result.json",
                "--epochs", "1", "--baseline", "4", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"^test AUC [\d.]+ logloss [\d.]+ \| uniform-4 AUC", proc.stdout, re.M)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"dimgrow", "uniform4"}
    proc = _run("report", out / "search_result.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "search_report.json").is_file() and (out / "dims_over_steps.png").is_file()


@pytest.mark.parametrize(
    "args, message",
    [(("demo", "--rows", "0"), "positive integer"),
     (("demo", "--alpha", "-1"), "must be >= 0"),
     (("search", "/nonexistent/dir"), "neither a split directory nor a dataset spec"),
     (("retrain", "/nonexistent/dir"), "--result"),
     (("report", "/nonexistent/result.json"), "No such file"),
     (("export", "/nonexistent/model.keras"), "is not a file")],
)
def test_bad_arguments_exit_2(tmp_path, args, message):
    proc = _run(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
