"""Loads each export in a fresh process and answers the requests that the
REST and gRPC clients build, as TF Serving would; compares with eager."""

import base64

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2

import dimgrow_tf as dg
from dimgrow_tf.export import export_saved_model
from dimgrow_tf.data.vocabulary import MISSING_ID
from dimgrow_tf.data.vocabulary import OOV_ID
from dimgrow_tf.export.compact_model import build_compact
from serving import GrpcClient
from serving import RestClient
from serving import load_schema
from conftest import serve_in_local_server

VOCAB_A = dg.Vocabulary({"a": [f"city_{i}" for i in range(10)]})   # ids 2..11
FIELDS = [dg.FieldConfig("a", 12, dim=3), dg.FieldConfig("b", 7, dim=0),
          dg.FieldConfig("c", 6, dim=2)]
ROWS = 16


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = {f.name: rng.integers(0, f.vocab_size, n).astype("int32") for f in FIELDS}
    return x, rng.integers(0, 2, n).astype("float32")


def _searched_model():
    keras.utils.set_random_seed(3)
    model, emb = dg.build_search_model(FIELDS, output_dim=8, seed=1)
    x, y = _data(512, 0)
    model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    rng = np.random.default_rng(5)
    for f in FIELDS[::2]:
        v = emb.field_variables(f.name)
        v["embeddings"].assign(rng.normal(0, 1.0, v["embeddings"].shape).astype("float32"))
        v["gate_logits"].assign(rng.normal(0, 0.4, v["gate_logits"].shape).astype("float32"))
        # Projection rows start at N(0, 0.01): spread them so predictions differ.
        v["projection"].assign(rng.normal(0, 0.5, v["projection"].shape).astype("float32"))
    return model


def _fixed_model():
    keras.utils.set_random_seed(4)
    model = dg.build_model(FIELDS, backbone="mlp", output_dim=8)
    x, y = _data(256, 1)
    model.fit(x, y, epochs=1, verbose=0)
    return model


def _oov_ids(ids, vocab_size):
    return np.where((ids < 0) | (ids >= vocab_size), OOV_ID, ids)


def _word(i):
    """The raw string of id `i` of field `a`: unseen strings for ids that
    are out of range, the empty string (missing) for id 1."""
    if 2 <= i < 12:
        return VOCAB_A.values("a")[i - 2]
    return "" if i == MISSING_ID else "unseen"


def _eager(model, ids):
    return keras.ops.convert_to_numpy(model(ids, training=False)).reshape(-1)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("exports")
    searched, fixed = _searched_model(), _fixed_model()
    x, _ = _data(ROWS, 7)
    kept = {n: x[n] for n in ("a", "c")}
    oov = {"a": np.array([12, -1, 1, 3]), "c": np.array([2, 6, -5, 1])}
    cases = {}
    for name, model, vocab in (("searched", searched, VOCAB_A),
                               ("fixed", fixed, None)):
        path = export_saved_model(model, str(base), model_name=name, vocabulary=vocab)
        compact = build_compact(model)[0]
        to_raw = (lambda ids: [_word(i) for i in ids]) \
            if vocab else (lambda ids: [int(i) for i in ids])
        rows = {"a": to_raw(kept["a"]), "c": [int(i) for i in kept["c"]]}
        oov_rows = {"a": to_raw(oov["a"]), "c": [int(i) for i in oov["c"]]}
        cases[name] = {
            "path": path,
            "rows": rows,
            "oov_rows": oov_rows,
            "model": _eager(model, x),
            "compact": _eager(compact, kept),
            "compact_oov": _eager(compact, {k: _oov_ids(v, {"a": 12, "c": 6}[k])
                                            for k, v in oov.items()}),
            "compact_missing_c": _eager(compact, {"a": kept["a"],
                                                  "c": np.full(ROWS, MISSING_ID)}),
            "compact_missing_a": _eager(compact, {"a": np.full(ROWS, MISSING_ID),
                                                  "c": kept["c"]}),
            "warmup_compact": compact,
        }
    job = {"exports": []}
    for name, case in cases.items():
        schema = load_schema(case["path"])
        rest = RestClient(model_name=name, schema=schema)
        grpc = GrpcClient(model_name=name, schema=schema)
        row_list = [dict(a=a, c=c) for a, c in zip(case["rows"]["a"], case["rows"]["c"])]
        bad_shape = grpc.predict_request(case["rows"])
        bad_shape.inputs["c"].CopyFrom(tf.make_tensor_proto(
            np.array(case["rows"]["c"], "int64")[:, None]))
        two_values = grpc.regress_request(case["rows"])
        two_values.input.example_list.examples[2].features.feature["c"].int64_list.value.append(1)
        requests = {
            "two_values": two_values,
            "predict": grpc.predict_request(case["rows"]),
            "examples": grpc.examples_predict_request(case["rows"]),
            "classify": grpc.classify_request(case["rows"]),
            "regress": grpc.regress_request(case["rows"]),
            "oov": GrpcClient(model_name=name).predict_request(case["oov_rows"]),
            "bad_shape": bad_shape,
        }
        methods = {"classify": "Classify", "regress": "Regress", "two_values": "Regress"}
        job["exports"].append({
            "export_dir": case["path"],
            "warmup": True,
            "rest": {
                "row": ["predict", rest.predict_body(row_list)],
                "columnar": ["predict", rest.predict_body(case["rows"], columnar=True)],
                "examples": ["predict", rest.examples_predict_body(case["rows"])],
                "classify": ["classify", rest.examples_body(case["rows"], "classify")],
                "regress": ["regress", rest.examples_body(case["rows"], "regress")],
                "oov": ["predict", RestClient().predict_body(case["oov_rows"])],
                "missing_c": ["regress", RestClient().examples_body(
                    {"a": case["rows"]["a"]}, "regress")],
                "missing_a": ["regress", RestClient().examples_body(
                    {"c": case["rows"]["c"]}, "regress")],
            },
            "grpc": {
                k: [methods.get(k, "Predict"), base64.b64encode(r.SerializeToString()).decode()]
                for k, r in requests.items()
            },
        })
    answers = serve_in_local_server(job, base)
    return {name: (case, answers[case["path"]]) for name, case in cases.items()}


def _decode(kind, answer):
    assert not isinstance(answer, dict), answer
    return kind.FromString(base64.b64decode(answer))


@pytest.mark.parametrize("name", ["searched", "fixed"])
def test_rest_bodies_answer_eager_predictions(served, name):
    case, answers = served[name]
    expected = case["compact"]
    rest = answers["rest"]
    np.testing.assert_allclose(rest["row"]["predictions"], expected, atol=1e-6)
    np.testing.assert_allclose(rest["columnar"]["outputs"], expected, atol=1e-6)
    np.testing.assert_allclose(rest["examples"]["predictions"], expected, atol=1e-6)
    np.testing.assert_allclose(rest["regress"]["result"], expected, atol=1e-6)
    classes = rest["classify"]["result"]
    assert [[c[0] for c in row] for row in classes] == [["0", "1"]] * ROWS
    np.testing.assert_allclose([row[1][1] for row in classes], expected, atol=1e-6)
    np.testing.assert_allclose([row[0][1] for row in classes], 1 - expected, atol=1e-6)
    np.testing.assert_allclose(rest["oov"]["predictions"], case["compact_oov"], atol=1e-6)
    np.testing.assert_allclose(rest["missing_c"]["result"], case["compact_missing_c"], atol=1e-6)
    np.testing.assert_allclose(rest["missing_a"]["result"], case["compact_missing_a"], atol=1e-6)


@pytest.mark.parametrize("name", ["searched", "fixed"])
def test_grpc_requests_answer_eager_predictions(served, name):
    case, answers = served[name]
    expected, grpc = case["compact"], answers["grpc"]
    reply = _decode(predict_pb2.PredictResponse, grpc["predict"])
    assert reply.model_spec.name == name and reply.model_spec.version.value == 1
    np.testing.assert_allclose(tf.make_ndarray(reply.outputs["probability"]), expected, atol=1e-6)
    reply = _decode(predict_pb2.PredictResponse, grpc["examples"])
    np.testing.assert_allclose(tf.make_ndarray(reply.outputs["probability"]), expected, atol=1e-6)
    reply = _decode(classification_pb2.ClassificationResponse, grpc["classify"])
    scores = [[c.score for c in row.classes] for row in reply.result.classifications]
    np.testing.assert_allclose(np.array(scores)[:, 1], expected, atol=1e-6)
    reply = _decode(regression_pb2.RegressionResponse, grpc["regress"])
    np.testing.assert_allclose([r.value for r in reply.result.regressions], expected, atol=1e-6)
    reply = _decode(predict_pb2.PredictResponse, grpc["oov"])
    np.testing.assert_allclose(
        tf.make_ndarray(reply.outputs["probability"]), case["compact_oov"], atol=1e-6)
    # Only errors raised by the exported graph itself are checked: the
    # request conversions of LocalServer (a test double) are not the contract.
    assert "Shape of tensor c [16,1] is not compatible" in grpc["bad_shape"]["error"]
    assert "Key: c, Index: 2.  Number of int64 values != expected" in grpc["two_values"]["error"]


def test_served_predictions_match_source_models(served):
    case, answers = served["fixed"]
    np.testing.assert_allclose(answers["rest"]["row"]["predictions"], case["model"], atol=1e-6)
    # The searched model's gates are folded into the weights: exact up to
    # float rounding, checked at 1e-5 (the export itself is checked at 1e-6
    # against the compact model it serves).
    case, answers = served["searched"]
    np.testing.assert_allclose(answers["rest"]["row"]["predictions"], case["model"], atol=1e-5)
    assert np.ptp(case["model"]) > 0.05


@pytest.mark.parametrize("name", ["searched", "fixed"])
def test_warmup_records_replay(served, name):
    case, answers = served[name]
    replies = answers["warmup"]
    assert sorted(m for m, _, _ in replies) == ["Classify"] * 2 + ["Predict"] * 4 + ["Regress"] * 2
    schema = load_schema(case["path"])
    for method, request, reply in replies:
        if method != "Predict":
            continue
        request = predict_pb2.PredictRequest.FromString(base64.b64decode(request))
        reply = predict_pb2.PredictResponse.FromString(base64.b64decode(reply))
        assert request.model_spec.name == name
        if request.model_spec.signature_name != "serving_default":
            continue
        ids = {}
        for field, kind in schema.items():
            values = tf.make_ndarray(request.inputs[field])
            ids[field] = np.array(
                [VOCAB_A.lookup("a", v.decode()) for v in values] if kind == "string"
                else values,
                "int32")
        np.testing.assert_allclose(
            tf.make_ndarray(reply.outputs["probability"]),
            _eager(case["warmup_compact"], ids), atol=1e-6)
