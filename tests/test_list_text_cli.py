"""A CSV with a list column and a text column through the command line:
`dimgrow search` on a dataset spec, `dimgrow export --vocab`, then raw
requests answered in a fresh process as TF Serving would, against the
searched model's eager predictions on the loader's ids."""

import base64
import csv
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

import dimgrow_tf as dg
from dimgrow_tf.data.csv_loader import CsvLoader
from serving import GrpcClient
from serving import RestClient
from serving import load_schema

pytest.importorskip("keras_hub", reason="text columns need keras-hub (the `text` extra)")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAD = dg.field_config.PAD_ID
GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
WORDS = ["star", "wars", "love", "story", "night", "dead", "space", "city", "dream"]
HEADER = ["click", "user", "genres", "note", "title"]
# Rows only in test: a list longer than max_len (cut to 3), an empty value
# between separators (dropped) and an unseen genre (OOV), missing cells (an
# empty cell, "NA"), an unseen user and unknown word pieces.
SPECIAL = [
    ["1", "u3", "Horror|Action|Drama|Comedy", "x", "Love Story"],
    ["0", "u4", "Horror||Zombie", "x", "Space Night Night Night Night Night Night Night"],
    ["0", "", "", "x", "NA"],
    ["1", "never-seen", "Sci-Fi", "x", "Zzyzx Qwv"],
]
SPEC = {
    "format": "csv", "train": "train.csv", "valid": "valid.csv", "test": "test.csv",
    "schema": {
        "label": "click", "categorical": ["user"], "missing": ["", "NA"],
        "multivalent": [
            {"name": "genres", "kind": "list", "separator": "|", "combiner": "mean",
             "max_len": 3},
            {"name": "title", "kind": "text", "tokenizer": "wordpiece",
             "vocabulary_size": 60, "combiner": "sqrtn", "max_len": 5},
        ],
    },
}
# A fresh process with the tensorflow-text ops registered (as a TF Serving
# build with them), answering the job with serving.local_server.
SERVE = ("import sys, tensorflow_text; from serving.local_server import main; "
         "sys.exit(main(sys.argv[1:]))")


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)


def _rows(rng, n):
    rows = []
    for _ in range(n):
        genres = list(rng.choice(GENRES, rng.integers(0, 4), replace=False))
        title = " ".join(rng.choice(WORDS, rng.integers(1, 5))).title()
        score = 0.15 + 0.6 * ("Horror" in genres) + 0.2 * ("Love" in title)
        rows.append([str(int(rng.random() < score)), f"u{rng.integers(30)}",
                     "|".join(genres), "x", title if rng.random() > 0.05 else ""])
    return rows


def _cli(*args, cwd):
    proc = subprocess.run(
        [sys.executable, "-m", "dimgrow_tf.cli", *map(str, args)], cwd=cwd,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def _client_rows(rows):
    """Raw CSV rows as a client sends them: the list split into values
    (`None` for a missing cell), the text verbatim."""
    return [{"user": r[1], "genres": r[2].split("|") if r[2] else None, "title": r[4]}
            for r in rows]


def _spread(source, target):
    """The searched model with N(0, 1) field weights, so that served and
    eager predictions differ between rows (two epochs barely move them)."""
    from dimgrow_tf.export.fold_utils import find_embedding_layer

    model = keras.saving.load_model(source, compile=False)
    emb = find_embedding_layer(model)
    rng = np.random.default_rng(1)
    for name in emb.dims:
        for kind, v in emb.field_variables(name).items():
            if kind != "moving_mean":
                v.assign(rng.normal(0, 1, v.shape).astype("float32"))
    model.save(target)
    return model


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("listtext")
    rng = np.random.default_rng(0)
    _write_csv(root / "train.csv", _rows(rng, 600))
    _write_csv(root / "valid.csv", _rows(rng, 150))
    test_rows = _rows(rng, 36) + SPECIAL
    _write_csv(root / "test.csv", test_rows)
    (root / "spec.json").write_text(json.dumps(SPEC))
    search_out = _cli("search", "spec.json", "--out", "run", "--epochs", 2,
                      "--batch-size", 32, "--verbose", 0, cwd=root)
    model = _spread(root / "run" / "search_model.keras", root / "run" / "spread.keras")
    export_out = _cli("export", "run/spread.keras", "--vocab", "run/vocabulary.json",
                      "--export-base", "exports", "--current-widths", "--predict", cwd=root)
    path = str(root / "exports" / "dimgrow" / "1")
    schema = load_schema(path)
    raw = _client_rows(test_rows)
    columns = {k: [r[k] for r in raw] for k in raw[0]}
    rest, grpc = RestClient(schema=schema), GrpcClient(schema=schema)
    job = {"exports": [{
        "export_dir": path, "warmup": True,
        "rest": {"row": ["predict", rest.predict_body(raw)],
                 "regress": ["regress", rest.examples_body(raw, "regress")]},
        "grpc": {key: [method, base64.b64encode(req.SerializeToString()).decode()]
                 for key, (method, req) in {
                     "predict": ("Predict", grpc.predict_request(columns)),
                     "examples": ("Predict", grpc.examples_predict_request(columns))}.items()},
    }]}
    (root / "job.json").write_text(json.dumps(job))
    proc = subprocess.run([sys.executable, "-c", SERVE, str(root / "job.json"),
                           str(root / "out.json")], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    vocab = dg.Vocabulary.load(root / "run" / "vocabulary.json")
    loader = CsvLoader(SPEC["schema"])
    table = loader.read(root / "test.csv")
    ids, _ = table.encode(vocab, loader.field_configs(vocab))
    eager = keras.ops.convert_to_numpy(model(ids, training=False)).reshape(-1)
    return {"root": root, "path": path, "schema": schema, "vocab": vocab, "ids": ids,
            "eager": eager, "answers": json.loads((root / "out.json").read_text())[path],
            "stats": table.stats, "search_out": search_out, "export_out": export_out}


def test_search_writes_list_and_text_fields_and_their_vocabulary(run):
    result = json.loads((run["root"] / "run" / "search_result.json").read_text())
    fields = {f["name"]: f for f in result["fields"]}
    assert (fields["genres"]["combiner"], fields["genres"]["max_len"]) == ("mean", 3)
    assert (fields["title"]["combiner"], fields["title"].get("max_len")) == ("sqrtn", None)
    vocab = run["vocab"]
    assert vocab.kinds == {"user": "str", "genres": "list", "title": "text"}
    assert vocab.values("genres") == sorted(GENRES)
    assert fields["genres"]["vocab_size"] == 8
    assert fields["title"]["vocab_size"] == vocab.vocab_size("title") == len(
        vocab.get_config()["fields"][2]["tokenizer"]["vocabulary"])
    assert "genres" in run["search_out"] and "title" in run["search_out"]


def test_loader_ids_follow_the_rule_for_lists_and_texts(run):
    ids, vocab, stats = run["ids"], run["vocab"], run["stats"]
    n = len(run["eager"])
    assert ids["user"].shape == (n,) and ids["genres"].shape == (n, 3)
    assert ids["title"].shape[0] == n and ids["title"].shape[1] <= 5
    g = {name: 2 + sorted(GENRES).index(name) for name in GENRES}
    special = slice(n - 4, n)
    assert ids["genres"][special].tolist() == [
        [g["Horror"], g["Action"], g["Drama"]], [g["Horror"], 0, PAD], [1, PAD, PAD],
        [g["Sci-Fi"], PAD, PAD]]
    assert stats.notes["genres:cut"] == 1
    title = ids["title"][special]
    words = vocab.tokenizer("title").vocabulary
    assert title[0, :2].tolist() == [words.index("love"), words.index("story")]
    assert (title[1] != PAD).sum() == 5, "max_len 5 keeps five tokens"
    assert title[2].tolist()[0] == 1 and set(title[2].tolist()[1:]) <= {PAD}, "NA: missing"
    assert 0 in title[3].tolist(), "unknown word pieces are OOV"
    assert ids["user"][special].tolist()[2:] == [1, 0]
    assert stats.oov["genres"] >= 1 and stats.oov["title"] >= 1


def test_served_raw_rows_equal_eager_in_a_fresh_process(run):
    answers, eager = run["answers"], run["eager"]
    assert run["schema"] == {"user": "string", "genres": "string_list", "title": "string"}
    assert np.ptp(eager) > 0.1
    body = answers["rest"]["row"]
    np.testing.assert_allclose(np.asarray(body["predictions"]).reshape(-1), eager, atol=1e-5)
    np.testing.assert_allclose(answers["rest"]["regress"]["result"], eager, atol=1e-5)
    for key in ("predict", "examples"):
        reply = predict_pb2.PredictResponse.FromString(base64.b64decode(answers["grpc"][key]))
        np.testing.assert_allclose(tf.make_ndarray(reply.outputs["probability"]), eager,
                                   atol=1e-5)
    assert len(answers["warmup"]) == 8
    meta = json.loads(pathlib.Path(run["path"], "assets.extra",
                                   "dimgrow_export.json").read_text())
    kinds = {f["name"]: (f["kind"], f["dtype"]) for f in meta["fields"]}
    assert kinds == {"user": ("string", "string"), "genres": ("string", "string_list"),
                     "title": ("text", "string")}
    assert "FastWordpieceTokenizeWithOffsets" in meta["custom_ops"]


def test_export_predict_answers_the_default_row(run):
    answer = json.loads(run["export_out"].strip().splitlines()[-1])
    assert answer["signature"] == "serving_default"
    row = answer["request"]
    assert isinstance(row["genres"], list) and isinstance(row["title"], str)
    assert 0.0 < answer["probability"] < 1.0


def test_retrain_reuses_the_search_vocabulary_and_tokenizer(run):
    out = _cli("retrain", "spec.json", "--result", "run/search_result.json", "--out",
               "retrain", "--epochs", 1, "--verbose", 0, cwd=run["root"])
    assert "Encoding with" in out
    again = dg.Vocabulary.load(run["root"] / "retrain" / "vocabulary.json")
    assert again == run["vocab"]
    metrics = json.loads((run["root"] / "retrain" / "metrics.json").read_text())
    assert 0.0 < metrics["dimgrow"]["auc"] <= 1.0


def _main(*args):
    from dimgrow_tf import cli

    return cli.main([str(a) for a in args])


def test_bad_requests_name_the_field(run, capsys):
    root = run["root"]
    base = ["export", root / "run" / "spread.keras", "--vocab",
            root / "run" / "vocabulary.json", "--export-base", root / "bad",
            "--current-widths", "--no-warmup", "--row"]
    cases = [
        ({"user": ["u3"], "genres": ["Drama"], "title": "x"},
         "Field 'user' takes one string value, not a list"),
        ({"user": "u3", "genres": ["Drama"], "title": ["x"]},
         "Field 'title' takes one string (a text)"),
        ({"user": "u3", "genres": [4], "title": "x"},
         "Field 'genres' takes string values (a list)"),
        ({"user": "u3", "genres": ["Drama"]}, "missing"),
    ]
    for row, message in cases:
        assert _main(*base, json.dumps(row)) == 2
        assert message in capsys.readouterr().err
    assert not (root / "bad").exists()
    client = RestClient(schema=run["schema"])
    good = {"user": "u3", "genres": ["Drama"], "title": "x"}
    with pytest.raises(ValueError, match=r"Field 'title' needs one value per row \(a 1-D "
                                         r"list\); received a list in row 1: \['x', 'y'\]"):
        client.predict_body([good, {**good, "title": ["x", "y"]}])
    with pytest.raises(TypeError, match=r"Field 'genres' takes string_list values; "
                                        r"received 3"):
        client.predict_body([{**good, "genres": ["Drama", 3]}])


def test_bad_specs_and_cells_fail_naming_the_column(run, tmp_path, capsys):
    spec = json.loads(json.dumps(SPEC))
    spec["schema"]["multivalent"][0]["kind"] = "set"
    spec.update(train=str(run["root"] / "train.csv"), valid=str(run["root"] / "valid.csv"),
                test=str(run["root"] / "test.csv"))
    (tmp_path / "kind.json").write_text(json.dumps(spec))
    assert _main("search", tmp_path / "kind.json", "--out", tmp_path / "o") == 2
    assert "Column 'genres': `kind` must be one of ('list', 'text')" in capsys.readouterr().err
    spec["schema"]["multivalent"][0].update(kind="list", separator="")
    (tmp_path / "sep.json").write_text(json.dumps(spec))
    assert _main("search", tmp_path / "sep.json", "--out", tmp_path / "o") == 2
    assert "Column 'genres': `separator` must be a non-empty string" in \
        capsys.readouterr().err
    spec["schema"]["multivalent"][0]["separator"] = "|"
    spec["schema"]["multivalent"][1]["kind"] = "list"
    (tmp_path / "keys.json").write_text(json.dumps(spec))
    assert _main("search", tmp_path / "keys.json", "--out", tmp_path / "o") == 2
    assert "Column 'title': unknown keys ['tokenizer', 'vocabulary_size'] for kind 'list'" \
        in capsys.readouterr().err
    spec["schema"]["multivalent"][1] = {"name": "title", "kind": "list"}
    spec["vocabulary"] = str(run["root"] / "run" / "vocabulary.json")
    (tmp_path / "other.json").write_text(json.dumps(spec))
    assert _main("search", tmp_path / "other.json", "--out", tmp_path / "o") == 2
    assert "{'title': ('text', 'list')}" in capsys.readouterr().err


def test_demo_runs_on_a_spec_with_list_and_text_columns(run, tmp_path, capsys):
    assert _main("demo", "--data", run["root"] / "spec.json", "--out", tmp_path / "demo",
                 "--epochs", 1, "--verbose", 0) == 0
    out = capsys.readouterr().out
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["signature"] == "serving_default"
    assert isinstance(answer["request"]["genres"], list) and 0 < answer["probability"] < 1
    assert dg.Vocabulary.load(tmp_path / "demo" / "vocabulary.json") == run["vocab"]
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert {"dimgrow", "uniform16"} <= set(metrics)
