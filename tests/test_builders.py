import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from conftest import config_round_trip
from conftest import random_batch


def _result():
    fields = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7), dg.FieldConfig("c", 5)]
    return dg.SearchResult.from_gates(
        fields, {"a": [0.9, 0.8, 0.2], "b": [0.3], "c": [0.7]}
    )


def test_search_result_final_dims_and_json(tmp_path):
    result = _result()
    assert result.dims == {"a": 2, "b": 0, "c": 1}
    assert result.searched_dims == {"a": 1, "b": 1, "c": 1}
    assert result.total_dims == 3 and result.embedding_params == 10 * 2 + 5
    path = tmp_path / "r.json"
    result.save(path)
    assert dg.SearchResult.load(path) == result
    assert config_round_trip(result) == result


def test_build_model_from_result_drops_zero_fields_and_trains():
    result = _result()
    model = dg.build_model(result, backbone="wide_deep", output_dim=8)
    emb = model.get_layer("field_embedding")
    shapes = sorted(tuple(v.shape) for v in emb.weights)
    assert shapes == [(3, 8), (5, 1), (10, 2)]
    assert emb.embedding_bytes() == 4 * (10 * 2 + 5)
    x, y = random_batch(result.fields, 64)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    assert model.predict(x, verbose=0).shape == (64, 1)


def _keyed(build):
    keras.utils.set_random_seed(0)
    fields = [dg.FieldConfig("c", 6, dim=2), dg.FieldConfig("d", 5, dim=2)]
    if build == "fixed":
        return dg.build_model(fields, output_dim=4)
    model, _ = dg.build_search_model(fields, output_dim=4, seed=0)
    if build == "compact":
        model = dg.export.compact_model(model)
        model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


@pytest.mark.parametrize("build", ["search", "fixed", "compact"])
def test_models_take_features_by_name_when_the_dict_has_more(build):
    # Extra keys that sort before the model's own ("a", "b" < "c", "d"): a
    # dict-input Keras model would read them in place of "c" and "d".
    rng = np.random.default_rng(0)
    exact = {"c": rng.integers(0, 6, 64), "d": rng.integers(0, 5, 64)}
    extra = dict(exact, a=rng.integers(0, 6, 64), b=rng.integers(0, 5, 64))
    y = rng.integers(0, 2, 64).astype("float32")
    model = _keyed(build)
    expected = model.predict(exact, verbose=0)
    assert np.ptp(expected) > 0
    np.testing.assert_array_equal(model.predict(extra, verbose=0), expected)
    ds = tf.data.Dataset.from_tensor_slices((extra, y)).batch(16)
    np.testing.assert_array_equal(model.predict(ds, verbose=0), expected)
    trained = []
    for x in (exact, extra):
        model = _keyed(build)
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), verbose=0)
        trained.append(model.predict(exact, verbose=0))
    np.testing.assert_allclose(trained[1], trained[0], atol=1e-6)
    assert np.abs(trained[0] - expected).max() > 1e-4


def test_fixed_model_round_trips(tmp_path):
    model = dg.build_model(_result(), backbone="mlp", output_dim=4)
    x, _ = random_batch(_result().fields, 16)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-7)


def test_layer_configs_round_trip():
    fixed = dg.FixedFieldEmbedding(_result().fields, output_dim=6, use_bias=True)
    again = config_round_trip(fixed)
    assert again.dims == fixed.dims and again.use_bias
    head = config_round_trip(dg.WideDeep(hidden_units=(8, 4), dropout=0.1))
    assert head.hidden_units == (8, 4) and head.dropout == 0.1


def test_wide_deep_shapes_and_probabilities():
    head = dg.WideDeep()
    out = keras.ops.convert_to_numpy(head(np.ones((3, 64), "float32")))
    assert out.shape == (3, 1) and np.all((out > 0) & (out < 1))
    assert [tuple(v.shape) for v in head.deep[0].weights] == [(64, 32), (32,)]
    assert tuple(head.deep[4].kernel.shape) == (32, 16)


def test_custom_backbone_factory_and_user_model():
    fields = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7)]
    model, emb = dg.build_search_model(
        fields, backbone=lambda: keras.layers.Dense(1, activation="sigmoid"), output_dim=4
    )
    x, y = random_batch(fields, 32)
    model.fit(x, y, epochs=1, verbose=0)
    assert model.layers[-1].kernel.shape == (4, 1)
    with pytest.raises(ValueError, match="backbone"):
        dg.build_model(fields, backbone="transformer")
    with pytest.raises(ValueError, match="nothing to train"):
        dg.build_model([f.with_dim(0) for f in fields])
