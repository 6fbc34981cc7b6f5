import pytest

from tfrs_helpers import LEGACY_PROBLEM

if LEGACY_PROBLEM:
    pytest.skip(LEGACY_PROBLEM, allow_module_level=True)

import json  # noqa: E402
import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

import dimgrow_tf as dg  # noqa: E402
from tfrs_helpers import make_search_model  # noqa: E402
from tfrs_helpers import random_batch  # noqa: E402
from tfrs_helpers import scripted_gates  # noqa: E402
from tfrs_helpers import serve_in_fresh_process  # noqa: E402

FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, dim=2), dg.FieldConfig("c", 5)]
PLAN = {2: {"a": [5.0], "b": [0.0, -5.0]}}


def _ids(x, names):
    return {n: x[n].astype("int64") for n in names}


def test_searched_model_export_serves_its_eager_predictions(tmp_path):
    model, emb = make_search_model(FIELDS, keras.optimizers.Adam(1e-3))
    x, y = random_batch(FIELDS, 96)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(monitor="loss"))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[scripted_gates(emb, PLAN), search])
    assert emb.dims == {"a": 2, "b": 1, "c": 1}
    path = dg.export_saved_model(model, str(tmp_path / "exports"))
    eager = model(x, training=False).numpy()[:, 0]
    served = serve_in_fresh_process(path, _ids(x, "abc"), tmp_path)
    np.testing.assert_allclose(served, eager, atol=1e-6)
    meta = json.loads((pathlib.Path(path) / "assets.extra" / "dimgrow_export.json").read_text())
    assert meta["widths"] == "current"
    assert [f["dim"] for f in meta["fields"]] == [2, 1, 1]
    assert meta["keras_version"] == keras.__version__


def test_retrained_model_at_final_dims_exports_without_dropped_fields(tmp_path):
    fields = [f.with_dim(d) for f, d in zip(FIELDS, (3, 0, 2))]
    inputs = {f.name: keras.Input((), dtype="int32", name=f.name) for f in fields}
    embedding = dg.FixedFieldEmbedding(fields, output_dim=8)
    hidden = keras.layers.Dense(4, activation="relu")(embedding(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy")
    x, y = random_batch(fields, 64)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = dg.export_saved_model(model, str(tmp_path / "exports"))
    eager = model(x, training=False).numpy()[:, 0]
    served = serve_in_fresh_process(path, _ids(x, "ac"), tmp_path)
    np.testing.assert_allclose(served, eager, atol=1e-6)
    meta = json.loads((pathlib.Path(path) / "assets.extra" / "dimgrow_export.json").read_text())
    assert meta["dropped_fields"] == ["b"]
    assert meta["widths"] == "fixed"
