"""DCN-v2 and DeepFM exports answered in a fresh process equal eager predictions."""

import importlib.util

import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from dimgrow_tf.export import export_saved_model
from serving import RestClient
from serving import load_schema
from conftest import serve_in_local_server

needs_rs = pytest.mark.skipif(importlib.util.find_spec("keras_rs") is None,
                              reason="keras-rs is not installed (the `rs` extra)")
FIELDS = [dg.FieldConfig("a", 10, dim=2), dg.FieldConfig("b", 7, dim=0),
          dg.FieldConfig("g", 6, dim=3, combiner="sqrtn")]
RAW = {"a": [1, 4, 12, 0], "g": [[1, 5], [2], [], [7, 3]]}
IDS = {"a": np.array([1, 4, 0, 0]), "b": np.zeros(4, "int64"),
       "g": np.array([[1, 5], [2, -1], [1, -1], [0, 3]])}


def _model(backbone, searched):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = {"a": rng.integers(0, 10, 64), "b": rng.integers(0, 7, 64),
         "g": np.where(rng.random((64, 2)) < 0.7, rng.integers(0, 6, (64, 2)), -1)}
    y = rng.integers(0, 2, 64).astype("float32")
    if not searched:
        model = dg.build_model(FIELDS, backbone=backbone, output_dim=4)
        model.fit(x, y, epochs=2, verbose=0)
        return model
    model, emb = dg.build_search_model(FIELDS, backbone=backbone, output_dim=4, seed=0)
    model.fit(x, y, epochs=1, verbose=0)
    for f in FIELDS:
        for kind, v in emb.field_variables(f.name).items():
            if kind != "moving_mean":
                v.assign(rng.normal(0, 1.0, v.shape).astype("float32"))
    return model


@pytest.mark.parametrize("backbone", [pytest.param("dcn_v2", marks=needs_rs), "deepfm"])
@pytest.mark.parametrize("searched", [True, False], ids=["searched", "retrained"])
def test_served_predictions_equal_eager(tmp_path, backbone, searched):
    model = _model(backbone, searched)
    path = export_saved_model(model, str(tmp_path), warmup=False)
    body = RestClient(schema=load_schema(path)).predict_body(RAW, columnar=True)
    job = {"exports": [{"export_dir": path, "rest": {"columnar": ["predict", body]}}]}
    served = serve_in_local_server(job, tmp_path)[path]["rest"]["columnar"]
    eager = keras.ops.convert_to_numpy(model(IDS, training=False)).reshape(-1)
    if searched:
        assert np.ptp(eager) > 0.05
    np.testing.assert_allclose(np.asarray(served["outputs"]).reshape(-1), eager, atol=2e-5)


def test_deepfm_searched_export_at_dims_that_drop_a_field_serves_eager(tmp_path):
    model = _model("deepfm", searched=True)
    emb = model.get_layer("dimgrow_embedding")
    a = emb.field_variables("a")  # every row at the moving mean: dropping a is exact
    a["embeddings"].assign(np.tile(keras.ops.convert_to_numpy(a["moving_mean"]), (10, 1)))
    result = dg.SearchResult.from_gates(emb.fields, {"a": [0.2, 0.1], "g": [0.9, 0.8, 0.7]})
    assert result.dims == {"a": 0, "b": 0, "g": 3}
    path = export_saved_model(model, str(tmp_path), warmup=False, result=result)
    raw = {"g": RAW["g"]}
    body = RestClient(schema=load_schema(path)).predict_body(raw, columnar=True)
    job = {"exports": [{"export_dir": path, "rest": {"columnar": ["predict", body]}}]}
    served = serve_in_local_server(job, tmp_path)[path]["rest"]["columnar"]
    eager = keras.ops.convert_to_numpy(model(IDS, training=False)).reshape(-1)
    assert np.ptp(eager) > 0.05
    np.testing.assert_allclose(np.asarray(served["outputs"]).reshape(-1), eager, atol=2e-5)
