"""Raw CSV with string ids -> loader -> model -> export -> a fresh process.

The served prediction of a raw request must equal the Keras model on the
ids the loader's `Vocabulary` gives, including unseen, empty and missing
values, for the Python API and for the `dimgrow` command line.
"""

import csv
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from dimgrow_tf.data.loader_utils import log_squared
from dimgrow_tf.data.vocabulary import MISSING_ID
from dimgrow_tf.data.vocabulary import OOV_ID

ROOT = pathlib.Path(__file__).resolve().parents[1]
SITES = [f"{v:08x}" for v in (0x1fbe01fe, 0x85f751fd, 0xd9750ee7, 0x4bcdc7e8, 0x2fa1b3c0)]
USERS = [f"u{v:05x}" for v in range(40)]
FIELDS = ("hour", "count", "site", "user")   # CsvSchema order: integer, then categorical
UNSEEN = {"site": "ffffffff", "user": "never-seen", "hour": 999, "count": 10**9}

CHECKER = r'''
import json, sys
import tensorflow as tf

job = json.load(open(sys.argv[1]))
out = {}
for name, case in job.items():
    loaded = tf.saved_model.load(case["path"])
    kinds = case["kinds"]
    tensors = {k: tf.constant(v, tf.string if kinds[k] == "string" else tf.int64)
               for k, v in case["columns"].items()}
    default = loaded.signatures["serving_default"](**tensors)["probability"]
    examples = []
    for row in case["examples"]:
        feature = {}
        for k, v in row.items():
            if v is None:
                continue
            if kinds[k] == "string":
                feature[k] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
            else:
                feature[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
        examples.append(tf.train.Example(
            features=tf.train.Features(feature=feature)).SerializeToString())
    by_example = loaded.signatures["examples"](examples=tf.constant(examples))["probability"]
    out[name] = {"default": default.numpy().tolist(), "examples": by_example.numpy().tolist()}
json.dump(out, open(sys.argv[2], "w"))
'''


def _write_csv(path, rng, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["click", "site", "ignored", "hour", "user", "count"])
        for _ in range(rows):
            site = SITES[rng.integers(len(SITES))] if rng.random() > 0.1 else ""
            user = USERS[rng.integers(len(USERS))] if rng.random() > 0.05 else ""
            hour = str(rng.integers(0, 24)) if rng.random() > 0.1 else ""
            count = str(int(rng.integers(0, 60) ** 2)) if rng.random() > 0.1 else ""
            click = int(rng.random() < (0.7 if site == SITES[0] else 0.2))
            writer.writerow([click, site, f"note {rng.integers(9)}", hour, user, count])


@pytest.fixture(scope="module")
def raw_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    rng = np.random.default_rng(0)
    for split, rows in (("train", 400), ("valid", 80), ("test", 80)):
        _write_csv(root / f"{split}.csv", rng, rows)
    # Values only in test: unseen in training, so OOV (id 0) for the loader.
    with open(root / "test.csv", "a", newline="") as fh:
        csv.writer(fh).writerow([1, UNSEEN["site"], "x", UNSEEN["hour"], UNSEEN["user"],
                                 UNSEEN["count"]])
    spec = {"format": "csv", "train": "train.csv", "valid": "valid.csv",
            "test": "test.csv", "batch_size": 64,
            "schema": {"label": "click", "categorical": ["site", "user"],
                       "integer": ["hour", "count"], "discretise": ["count"]}}
    (root / "spec.json").write_text(json.dumps(spec))
    return root


def _raw_rows(path):
    """The raw test rows as a client sends them: strings verbatim, integer
    cells as int, empty integer cells as None (absent from a tf.Example)."""
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return [{"hour": int(r["hour"]) if r["hour"] else None,
             "count": int(r["count"]) if r["count"] else None,
             "site": r["site"], "user": r["user"]} for r in rows]


def _extra_rows(vocab):
    site, user = vocab.values("site")[1], vocab.values("user")[3]
    return [
        {"hour": UNSEEN["hour"], "count": UNSEEN["count"], "site": UNSEEN["site"],
         "user": UNSEEN["user"]},
        {"hour": 5, "count": 100, "site": "", "user": user},   # empty string: missing
        {"hour": -7, "count": 2, "site": site, "user": ""},    # negative hour: unseen
        {"hour": 3, "count": 3481, "site": site, "user": user},
    ]


def _ids(vocab, rows):
    """The loader's ids of raw rows: its discretisation, then
    `Vocabulary.encode`, as for evaluation."""
    columns = {n: [None if r[n] is None else str(log_squared(r[n]) if n == "count" else r[n])
                   for r in rows] for n in FIELDS}
    return vocab.encode(columns)[0]


def _eager(model, ids):
    return keras.ops.convert_to_numpy(model(ids, training=False)).reshape(-1)


def _case(path, vocab, rows, examples):
    kinds = {"hour": "int", "count": "int", "site": "string", "user": "string"}
    columns = {n: [r[n] for r in rows] for n in FIELDS}
    return {"path": path, "kinds": kinds, "columns": columns, "examples": examples}


def _serve_in_fresh_process(tmp_path, job):
    (tmp_path / "checker.py").write_text(CHECKER)
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "checker.py"), str(tmp_path / "job.json"),
         str(tmp_path / "out.json")],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True,
        text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / "out.json").read_text())


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "dimgrow_tf.cli", *map(str, args)], cwd=cwd,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True,
        text=True, timeout=600,
    )


def test_python_export_serves_raw_strings_like_the_loader(raw_data, tmp_path):
    data = dg.load_arrays(str(raw_data / "spec.json"))
    vocab = data.vocabulary
    assert vocab.lookup("site", "") == MISSING_ID
    assert vocab.lookup("site", UNSEEN["site"]) == OOV_ID
    assert data.stats["test"].oov["site"] == 1 and data.stats["test"].missing["site"] > 0
    keras.utils.set_random_seed(0)
    fields = [f.with_dim(d) for f, d in zip(data.fields, (2, 1, 3, 2))]
    model = dg.build_model(fields, backbone="mlp", output_dim=8)
    model.fit(*data.splits["train"], epochs=1, verbose=0)
    rng = np.random.default_rng(1)
    layer = model.get_layer("field_embedding")
    for name in FIELDS:   # distinct rows everywhere, OOV and missing included
        table = layer.embeddings[name].embeddings
        table.assign(rng.normal(0, 1, table.shape).astype("float32"))
    path = dg.export_saved_model(model, str(tmp_path / "exports"), vocabulary=vocab)

    test_rows = _raw_rows(raw_data / "test.csv")
    present = [r for r in test_rows if None not in (r["hour"], r["count"])] \
        + _extra_rows(vocab)
    served = _serve_in_fresh_process(tmp_path, {
        "python": _case(path, vocab, present, test_rows + _extra_rows(vocab))})["python"]

    # Offline evaluation of the test split == the served raw test CSV rows.
    offline = _eager(model, data.splits["test"][0])
    np.testing.assert_allclose(served["examples"][:len(test_rows)], offline, atol=1e-6)
    np.testing.assert_allclose(
        served["examples"][len(test_rows):], _eager(model, _ids(vocab, _extra_rows(vocab))),
        atol=1e-6)
    np.testing.assert_allclose(served["default"], _eager(model, _ids(vocab, present)),
                               atol=1e-6)
    ids = _ids(vocab, _extra_rows(vocab))
    assert ids["site"].tolist()[:2] == [OOV_ID, MISSING_ID]
    assert ids["hour"][2] == OOV_ID and ids["user"][2] == MISSING_ID
    assert np.ptp(served["default"]) > 0.01
    meta = json.loads(pathlib.Path(path, "assets.extra", "dimgrow_export.json").read_text())
    assert {f["name"]: (f["kind"], f["vocab_size"]) for f in meta["fields"]} == {
        n: ("int" if n in ("hour", "count") else "string", vocab.vocab_size(n)) for n in FIELDS}
    assert vocab.discretise == ("count",)
    assert [f["name"] for f in meta["fields"] if f["discretised"]] == ["count"]


def test_serving_discretisation_equals_the_loaders():
    import tensorflow as tf

    from dimgrow_tf.export.raw_features import log_squared as tf_log_squared

    values = np.concatenate([np.arange(-5, 200_000), np.array([10**9, 2**62, -(2**62)])])
    np.testing.assert_array_equal(tf_log_squared(tf.constant(values)).numpy(),
                                  [log_squared(int(v)) for v in values])


def test_cli_search_vocabulary_exports_and_serves_raw_strings(raw_data, tmp_path):
    run = tmp_path / "run"
    proc = _cli("search", raw_data / "spec.json", "--epochs", "1", "--verbose", "0",
                "--check-every", "2", "--batch-size", "128", "--out", run, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    vocab = dg.Vocabulary.load(run / "vocabulary.json")
    row = {"hour": 7, "count": None, "site": "", "user": UNSEEN["user"]}
    proc = _cli("export", run / "search_model.keras", "--vocab", run / "vocabulary.json",
                "--current-widths", "--export-base", tmp_path / "exports",
                "--row", json.dumps(row), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    path = str(tmp_path / "exports" / "dimgrow" / "1")
    assert "Widths: current" in proc.stdout
    model = keras.saving.load_model(run / "search_model.keras", compile=False)
    assert answer["probability"] == pytest.approx(
        float(_eager(model, _ids(vocab, [row]))[0]), abs=1e-5)

    test_rows = _raw_rows(raw_data / "test.csv")
    present = [r for r in test_rows if None not in (r["hour"], r["count"])] \
        + _extra_rows(vocab)
    served = _serve_in_fresh_process(tmp_path, {
        "cli": _case(path, vocab, present, test_rows)})["cli"]
    np.testing.assert_allclose(served["default"], _eager(model, _ids(vocab, present)),
                               atol=1e-5)
    np.testing.assert_allclose(served["examples"], _eager(model, _ids(vocab, test_rows)),
                               atol=1e-5)

    # Without --current-widths the search result beside the model sets the
    # dims; here one whose final dims drop `hour`.
    result = dg.SearchResult.load(run / "search_result.json")
    assert {k: result.settings[k] for k in ("epochs", "batch_size", "check_every", "alpha")} \
        == {"epochs": 1, "batch_size": 128, "check_every": 2, "alpha": 0.02}
    assert result.timings["epochs"] == 1 and result.timings["seconds"] > 0
    # retrain takes the search's settings unless a flag overrides them, and
    # encodes with the search's vocabulary.json.
    proc = _cli("retrain", raw_data / "spec.json", "--result", run / "search_result.json",
                "--seed", "3", "--verbose", "0", "--out", tmp_path / "retrain", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Encoding with {run / 'vocabulary.json'}" in proc.stdout
    metrics = json.loads((tmp_path / "retrain" / "metrics.json").read_text())
    assert {k: metrics["settings"][k] for k in ("epochs", "batch_size", "seed", "overridden")} \
        == {"epochs": 1, "batch_size": 128, "seed": 3, "overridden": ["seed"]}
    assert metrics["timings"]["retrain_epochs"] == 1
    result.fields = [f.with_dim(0 if f.name == "hour" else 1) for f in result.fields]
    result.save(run / "search_result.json")
    proc = _cli("export", run / "search_model.keras", "--vocab", run / "vocabulary.json",
                "--export-base", tmp_path / "exports", "--no-warmup", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "exports" / "dimgrow" / "2" / "assets.extra"
                       / "dimgrow_export.json").read_text())
    assert meta["widths"] == "search_result" and "Widths: search_result" in proc.stdout
    assert {f["name"]: f["dim"] for f in meta["fields"]} == {"count": 1, "site": 1, "user": 1}
    assert meta["dropped_fields"] == ["hour"]
