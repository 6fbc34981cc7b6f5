import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

import dimgrow_tf as dg
from dimgrow_tf.export import export_saved_model
from dimgrow_tf.export import saved_model_utils
from dimgrow_tf.export import write_models_config

SAVED_MODEL_CLI = pathlib.Path(sys.executable).parent / "saved_model_cli"
FIELDS = [dg.FieldConfig("a", 12, dim=3), dg.FieldConfig("b", 7, dim=0),
          dg.FieldConfig("c", 6, dim=2)]


@pytest.fixture(scope="module")
def searched():
    keras.utils.set_random_seed(0)
    model, _ = dg.build_search_model(FIELDS, output_dim=8, seed=0)
    rng = np.random.default_rng(0)
    x = {f.name: rng.integers(0, f.vocab_size, 128).astype("int32") for f in FIELDS}
    model.fit(x, rng.integers(0, 2, 128).astype("float32"), epochs=1, verbose=0)
    return model


export_module = sys.modules["dimgrow_tf.export.export_saved_model"]


def _versions(path):
    return sorted(os.listdir(path))


def test_versions_layout_and_models_config(tmp_path, searched):
    first = export_saved_model(searched, str(tmp_path), warmup=False)
    second = export_saved_model(searched, str(tmp_path), warmup=False)
    fifth = export_saved_model(searched, str(tmp_path), version=5, warmup=False)
    other = export_saved_model(searched, str(tmp_path), model_name="ctr", warmup=False)
    assert [first, second, fifth, other] == [
        str(tmp_path / "dimgrow" / v) for v in ("1", "2", "5")] + [str(tmp_path / "ctr" / "1")]
    assert _versions(tmp_path / "dimgrow") == ["1", "2", "5"]
    assert export_saved_model(searched, str(tmp_path), warmup=False).endswith("/6")
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_saved_model(searched, str(tmp_path), version=2, warmup=False)
    for bad in (0, -1, "3", 2.0):
        with pytest.raises(ValueError, match="positive integer"):
            export_saved_model(searched, str(tmp_path), version=bad, warmup=False)
    with pytest.raises(ValueError, match="model_name"):
        export_saved_model(searched, str(tmp_path), model_name="a/b", warmup=False)
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((tmp_path / "models.config").read_text(), config)
    entries = {c.name: c for c in config.model_config_list.config}
    assert sorted(entries) == ["ctr", "dimgrow"]
    assert entries["dimgrow"].base_path == "/models/dimgrow"
    assert entries["dimgrow"].model_platform == "tensorflow"
    assert entries["dimgrow"].model_version_policy.latest.num_versions == 1
    path = write_models_config(str(tmp_path), ["dimgrow"], container_base="/srv", num_versions=2,
                               path=str(tmp_path / "one.config"))
    config = text_format.Parse(pathlib.Path(path).read_text(),
                               model_server_config_pb2.ModelServerConfig())
    assert [(c.name, c.base_path, c.model_version_policy.latest.num_versions)
            for c in config.model_config_list.config] == [("dimgrow", "/srv/dimgrow", 2)]
    # serving/models.config, the documented example, is what the exporter writes.
    example = pathlib.Path(__file__).resolve().parents[1] / "serving" / "models.config"
    (tmp_path / "only" / "dimgrow" / "1").mkdir(parents=True)
    assert pathlib.Path(write_models_config(str(tmp_path / "only"))).read_text() == \
        example.read_text()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_interrupted_export_leaves_no_version(tmp_path, searched, monkeypatch, error):
    export_saved_model(searched, str(tmp_path), warmup=False)
    seen = {}

    def interrupt(staging, *args, **kwargs):
        seen["staging"] = staging
        seen["files"] = sorted(os.listdir(staging))
        seen["versions"] = saved_model_utils.existing_versions(str(tmp_path / "dimgrow"))
        raise error("killed mid-export")

    monkeypatch.setattr(export_module, "write_warmup_requests", interrupt)
    with pytest.raises(error, match="killed"):
        export_saved_model(searched, str(tmp_path))
    # The half-written export was complete up to the warmup file but lived
    # in a hidden, non-integer directory that TF Serving ignores.
    assert "saved_model.pb" in seen["files"] and seen["versions"] == [1]
    assert not os.path.basename(seen["staging"]).isdigit()
    assert _versions(tmp_path / "dimgrow") == ["1"]


def test_export_holds_only_inference_variables_and_no_device(tmp_path, searched):
    path = export_saved_model(searched, str(tmp_path))
    assert saved_model_utils.device_strings(path) == []
    names = dict(tf.train.list_variables(os.path.join(path, "variables", "variables")))
    weights = {k: v for k, v in names.items() if "/.ATTRIBUTES/VARIABLE_VALUE" in k}
    shapes = sorted(tuple(v) for v in weights.values())
    backbone = sorted(tuple(w.shape) for w in searched.get_layer("wide_deep").weights)
    assert shapes == sorted([(12, 3), (6, 2), (5, 8), (8,)] + backbone)
    assert not any("seed" in k or "optimizer" in k or "gate" in k for k in names)
    meta = json.loads(pathlib.Path(path, "assets.extra", "dimgrow_export.json").read_text())
    assert meta["source"] == "searched" and meta["dropped_fields"] == ["b"]
    assert [(f["name"], f["dim"], f["kind"], f["dtype"]) for f in meta["fields"]] == [
        ("a", 3, "id", "int64"), ("c", 2, "id", "int64")]
    assert meta["widths"] == "current" and meta["ids"] == {
        "oov": 0, "missing": 1, "first_value": 2}
    # The stale fingerprint (a hash of the unedited saved_model.pb) is gone.
    assert not os.path.exists(os.path.join(path, "fingerprint.pb"))


def test_warmup_file_holds_real_requests(tmp_path, searched):
    path = export_saved_model(searched, str(tmp_path), model_name="ctr",
                              warmup_features={"a": [4, 5, 6], "c": [1, 2, 3], "b": [0]})
    records = list(tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests")).as_numpy_iterator())
    logs = [prediction_log_pb2.PredictionLog.FromString(r) for r in records]
    kinds = [log.WhichOneof("log_type") for log in logs]
    assert kinds == ["predict_log", "predict_log", "classify_log", "regress_log"] * 2
    default = logs[4].predict_log.request
    assert default.model_spec.name == "ctr"
    assert default.model_spec.signature_name == "serving_default"
    assert sorted(default.inputs) == ["a", "c"]
    assert tf.make_ndarray(default.inputs["a"]).tolist() == [4, 5, 6, 4, 5, 6, 4, 5]
    assert default.inputs["a"].dtype == tf.int64.as_datatype_enum
    examples = logs[6].classify_log.request.input.example_list.examples
    assert len(examples) == 8
    assert examples[1].features.feature["c"].int64_list.value == [2]
    # The warmup requests are the ones the gRPC client builds for the same rows.
    from serving import GrpcClient

    client = GrpcClient(model_name="ctr")
    rows = {"a": [4, 5, 6, 4, 5, 6, 4, 5], "c": [1, 2, 3, 1, 2, 3, 1, 2]}
    assert logs[4].predict_log.request == client.predict_request(rows)
    assert logs[5].predict_log.request == client.examples_predict_request(rows)
    assert logs[6].classify_log.request == client.classify_request(rows)
    assert logs[7].regress_log.request == client.regress_request(rows)


def test_saved_model_cli_shows_the_contract(tmp_path, searched):
    vocab = [f"v{i}" for i in range(10)]
    path = export_saved_model(searched, str(tmp_path), vocabulary=dg.Vocabulary(
        {"a": vocab, "b": list("vwxyz")}))
    assert pathlib.Path(path, "assets", "vocab_a.txt").read_text().split() == vocab
    proc = subprocess.run(
        [str(SAVED_MODEL_CLI), "show", "--all", "--dir", path],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    blocks = {}
    for block in proc.stdout.split("signature_def['")[1:]:
        name, body = block.split("']", 1)
        method = body.split("Method name is:")[1].split("\n")[0].strip()
        blocks[name] = method, body
    assert {k: v[0] for k, v in blocks.items() if not k.startswith("__")} == {
        "serving_default": "tensorflow/serving/predict",
        "examples": "tensorflow/serving/predict",
        "classify": "tensorflow/serving/classify",
        "regress": "tensorflow/serving/regress",
    }
    default = blocks["serving_default"][1]
    assert "inputs['a'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in default
    assert "inputs['c'] tensor_info:\n        dtype: DT_INT64\n        shape: (-1)" in default
    assert "inputs['b']" not in default
    probability = ("outputs['probability'] tensor_info:\n"
                   "        dtype: DT_FLOAT\n        shape: (-1)")
    assert probability in default
    assert "inputs['examples'] tensor_info:\n        dtype: DT_STRING" in blocks["examples"][1]
    classify = blocks["classify"][1]
    assert "inputs['inputs']" in classify and "outputs['classes']" in classify
    scores = "outputs['scores'] tensor_info:\n        dtype: DT_FLOAT\n        shape: (-1, 2)"
    assert scores in classify
    assert "outputs['outputs']" in blocks["regress"][1]


@pytest.mark.parametrize(
    "vocabulary, error, message",
    [(dg.Vocabulary({"zzz": ["x"]}), ValueError, r"field\(s\) \['zzz'\] that the model lacks"),
     (dg.Vocabulary({"a": [f"v{i}" for i in range(11)]}), ValueError,
      "gives 13 ids .* vocab_size=12"),
     ({"a": [f"v{i}" for i in range(10)]}, TypeError, r"\{field: \[str\]\} mapping"),
     (dg.Vocabulary({"a": [f"v{i}" for i in range(9)] + ["y\nz"]}), ValueError,
      "line break"),
     ("missing_vocabulary.json", FileNotFoundError, "missing_vocabulary.json")],
)
def test_bad_vocabularies_write_nothing(tmp_path, searched, vocabulary, error, message):
    with pytest.raises(error, match=message):
        export_saved_model(searched, str(tmp_path / "base"), vocabulary=vocabulary)
    assert not (tmp_path / "base").exists()
