"""Exports with multi-valent fields, answered in a fresh process as TF Serving
would (REST and gRPC bodies built by the clients), against eager predictions."""

import base64
import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2

import dimgrow_tf as dg
from dimgrow_tf.export import export_saved_model
from serving import GrpcClient
from serving import RestClient
from serving import load_schema
from conftest import serve_in_local_server

PAD = dg.field_config.PAD_ID
TAGS = ["drama", "comedy", "noir", "war"]            # ids 2..5
VOCAB = dg.Vocabulary({"tags": TAGS})
FIELDS = [dg.FieldConfig("a", 9, dim=2), dg.FieldConfig("g", 7, dim=2, combiner="sum"),
          dg.FieldConfig("tags", 6, dim=3, combiner="mean")]
# Raw rows: `g` holds ids (out of range -> 0), `tags` strings (unseen -> 0);
# an empty list is missing (id 1).
RAW = {"a": [3, 4, 5, 6], "g": [[1, 2], [6], [], [9, 3, 3]],
       "tags": [["drama", "noir"], ["war"], ["zzz"], []]}
IDS = {"a": np.array([3, 4, 5, 6]),
       "g": np.array([[1, 2, PAD], [6, PAD, PAD], [1, PAD, PAD], [0, 3, 3]]),
       "tags": np.array([[2, 4], [5, PAD], [0, PAD], [1, PAD]])}


def _searched():
    keras.utils.set_random_seed(0)
    model, emb = dg.build_search_model(FIELDS, output_dim=8, seed=0)
    rng = np.random.default_rng(0)
    x = {"a": rng.integers(0, 9, 128),
         "g": np.where(rng.random((128, 3)) < 0.6, rng.integers(0, 7, (128, 3)), PAD),
         "tags": np.where(rng.random((128, 2)) < 0.7, rng.integers(0, 6, (128, 2)), PAD)}
    model.fit(x, rng.integers(0, 2, 128).astype("float32"), epochs=1, verbose=0)
    for f in FIELDS:
        v = emb.field_variables(f.name)
        v["embeddings"].assign(rng.normal(0, 1.0, v["embeddings"].shape).astype("float32"))
        v["gate_logits"].assign(rng.normal(0, 0.4, v["gate_logits"].shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    model = _searched()
    path = export_saved_model(model, str(base), vocabulary=VOCAB,
                              warmup_features={"tags": RAW["tags"], "g": RAW["g"]})
    schema = load_schema(path)
    rest, grpc = RestClient(schema=schema), GrpcClient(schema=schema)
    rows = [dict(a=a, g=g, tags=t) for a, g, t in zip(RAW["a"], RAW["g"], RAW["tags"])]
    job = {"exports": [{
        "export_dir": path, "warmup": True,
        "rest": {"row": ["predict", rest.predict_body(rows)],
                 "columnar": ["predict", rest.predict_body(RAW, columnar=True)],
                 "regress": ["regress", rest.examples_body(RAW, "regress")]},
        "grpc": {"predict": ["Predict", grpc.predict_request(RAW)],
                 "examples": ["Predict", grpc.examples_predict_request(RAW)],
                 "regress": ["Regress", grpc.regress_request(RAW)]},
    }]}
    for key, (method, request) in job["exports"][0]["grpc"].items():
        job["exports"][0]["grpc"][key] = [
            method, base64.b64encode(request.SerializeToString()).decode()]
    answers = serve_in_local_server(job, base)
    eager = keras.ops.convert_to_numpy(model(IDS, training=False)).reshape(-1)
    return path, schema, answers[path], eager


def test_schema_and_metadata_name_the_lists(served):
    path, schema, _, _ = served
    assert schema == {"a": "int64", "g": "int64_list", "tags": "string_list"}
    meta = json.loads(pathlib.Path(path, "assets.extra", "dimgrow_export.json").read_text())
    assert {f["name"]: f.get("combiner") for f in meta["fields"]} == {
        "a": None, "g": "sum", "tags": "mean"}


def test_rest_bodies_answer_eager_predictions(served):
    _, _, answers, eager = served
    for key in ("row", "columnar"):
        body = answers["rest"][key]
        got = body.get("predictions", body.get("outputs"))
        np.testing.assert_allclose(np.asarray(got).reshape(-1), eager, atol=1e-6)
    regress = answers["rest"]["regress"]["result"]
    np.testing.assert_allclose(regress, eager, atol=1e-6)


def test_grpc_requests_answer_eager_predictions(served):
    _, _, answers, eager = served
    for key in ("predict", "examples"):
        reply = predict_pb2.PredictResponse.FromString(
            base64.b64decode(answers["grpc"][key]))
        np.testing.assert_allclose(tf.make_ndarray(reply.outputs["probability"]), eager,
                                   atol=1e-6)
    reply = regression_pb2.RegressionResponse.FromString(
        base64.b64decode(answers["grpc"]["regress"]))
    np.testing.assert_allclose([r.value for r in reply.result.regressions], eager, atol=1e-6)


def test_warmup_requests_replay_with_lists(served):
    _, _, answers, _ = served
    assert len(answers["warmup"]) == 8
    first = predict_pb2.PredictRequest.FromString(base64.b64decode(answers["warmup"][4][1]))
    tags = tf.make_ndarray(first.inputs["tags"])
    assert tags.shape == (8, 2) and tags[0].tolist() == [b"drama", b"noir"]
    assert tags[3].tolist() == [b"", b""], "an empty list is sent as padding"


def test_bad_list_values_fail_before_sending(served):
    _, schema, _, _ = served
    with pytest.raises(TypeError, match="'tags' takes string_list values"):
        RestClient(schema=schema).predict_body({**RAW, "tags": [[1], [2], [3], [4]]})
    with pytest.raises(ValueError, match="'a' needs one value per row"):
        RestClient(schema=schema).predict_body({**RAW, "a": [[1, 2]] * 4})


def test_export_command_answers_a_row_with_lists(tmp_path, capsys):
    import argparse

    from dimgrow_tf.export import export_cli

    model = _searched()
    model.save(tmp_path / "m.keras")
    VOCAB.save(tmp_path / "vocab.json")
    parser = argparse.ArgumentParser(prog="dimgrow")
    export_cli.add_parser(parser.add_subparsers(dest="command", required=True))

    def run(row):
        code = export_cli.run(parser.parse_args([
            "export", str(tmp_path / "m.keras"), "--export-base", str(tmp_path / "e"),
            "--vocab", str(tmp_path / "vocab.json"), "--current-widths", "--no-warmup",
            "--row", json.dumps(row)]))
        return code, capsys.readouterr()

    code, out = run({"a": 3, "g": [1, 2], "tags": ["drama", "noir"]})
    assert code == 0, out.err
    answer = json.loads(out.out.strip().splitlines()[-1])
    ids = {k: v[:1] for k, v in IDS.items()}
    expected = float(keras.ops.convert_to_numpy(model(ids, training=False))[0, 0])
    assert answer["signature"] == "serving_default"
    assert abs(answer["probability"] - expected) < 1e-6
    code, out = run({"a": 6, "g": [9, 3, 3], "tags": []})    # empty list: missing
    assert code == 0, out.err
    answer = json.loads(out.out.strip().splitlines()[-1])
    ids = {k: v[3:] for k, v in IDS.items()}
    expected = float(keras.ops.convert_to_numpy(model(ids, training=False))[0, 0])
    assert answer["signature"] == "examples" and abs(answer["probability"] - expected) < 1e-6
    code, out = run({"a": 3, "g": ["x"], "tags": ["drama"]})
    assert code == 2 and "'g' takes int64 values (a list)" in out.err
