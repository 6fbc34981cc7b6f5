import numpy as np
import pytest
import keras

import dimgrow_tf as dg
from conftest import config_round_trip
from conftest import make_search_model
from conftest import random_batch

S = 1.0 / (1.0 + np.exp(-1.0))


def _golden_layer():
    fields = [dg.FieldConfig("a", 3), dg.FieldConfig("b", 4, dim=2)]
    emb = dg.DimGrowEmbedding(fields, output_dim=2, alpha=0.02, seed=0)
    emb.build()
    values = {
        "a": {"embeddings": [[1.0], [2.0], [3.0]], "projection": [[1.0, 0.0]],
              "gate_logits": [0.0], "moving_mean": [2.0]},
        "b": {"embeddings": [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]],
              "projection": [[0.0, 1.0], [1.0, 1.0]],
              "gate_logits": [0.2, 0.0], "moving_mean": [1.0, 10.0]},
    }
    for name, kinds in values.items():
        for kind, value in kinds.items():
            emb.field_variables(name)[kind].assign(np.array(value, "float32"))
    return emb


INPUTS = {"a": np.array([0, 2]), "b": np.array([1, 3])}


def test_inference_golden():
    emb = _golden_layer()
    out = keras.ops.convert_to_numpy(emb(INPUTS, training=False))
    np.testing.assert_allclose(out, [[16.5, 16 + S], [27.5, 26 + 3 * S]], rtol=1e-6)
    expected_reg = 0.02 * 0.1 * np.mean([0.5, S, 0.5 / 2])
    np.testing.assert_allclose(float(emb.losses[0]), expected_reg, rtol=1e-5)


def test_tensor_input_equals_dict_input():
    emb = _golden_layer()
    stacked = np.stack([INPUTS["a"], INPUTS["b"]], axis=1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(emb(stacked)), keras.ops.convert_to_numpy(emb(INPUTS))
    )


def test_training_with_open_gates_is_plain_projection():
    emb = _golden_layer()
    for name in ("a", "b"):
        v = emb.field_variables(name)["gate_logits"]
        v.assign(np.full(v.shape, 50.0, "float32"))
    out = keras.ops.convert_to_numpy(emb(INPUTS, training=True))
    x = np.array([[1.0, 2.0, 20.0], [3.0, 4.0, 40.0]])
    p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(out, x @ p, rtol=1e-6)


def test_training_with_closed_gates_uses_shuffled_columns_and_updates_means():
    emb = _golden_layer()
    for name in ("a", "b"):
        v = emb.field_variables(name)["gate_logits"]
        v.assign(np.full(v.shape, -50.0, "float32"))
    ids = {"a": np.array([0, 1, 2, 0, 1, 2] * 5), "b": np.array([0, 1, 2, 3, 0, 1] * 5)}
    out = keras.ops.convert_to_numpy(emb(ids, training=True))
    # Column sums survive any permutation, so the output's column sums do.
    table_a = np.array([1.0, 2.0, 3.0])[ids["a"]]
    table_b = np.array([[1, 10], [2, 20], [3, 30], [4, 40]], "float32")[ids["b"]]
    x = np.concatenate([table_a[:, None], table_b], axis=1)
    p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(out.sum(axis=0), (x @ p).sum(axis=0), rtol=1e-5)
    assert not np.allclose(out, x @ p)
    np.testing.assert_allclose(
        emb.field_variables("b")["moving_mean"].numpy(),
        0.99 * np.array([1.0, 10.0]) + 0.01 * x[:, 1:].mean(axis=0),
        rtol=1e-6,
    )


def test_variables_are_physically_sized_and_bytes_from_shapes():
    fields = [dg.FieldConfig("a", 100), dg.FieldConfig("b", 7, dim=3), dg.FieldConfig("c", 50, dim=0)]
    emb = dg.DimGrowEmbedding(fields, output_dim=8)
    emb.build()
    shapes = {v.path.split("/")[-1]: tuple(v.shape) for v in emb.weights}
    assert shapes["a_embeddings"] == (100, 1) and shapes["b_embeddings"] == (7, 3)
    assert shapes["b_projection"] == (3, 8) and shapes["b_gate_logits"] == (3,)
    assert not any(k.startswith("c_") for k in shapes)
    table_bytes = sum(
        4 * int(np.prod(v.shape)) for v in emb.weights if v.path.endswith("_embeddings")
    )
    assert emb.embedding_bytes() == table_bytes == 4 * (100 * 1 + 7 * 3)
    assert emb.dims == {"a": 1, "b": 3, "c": 0}
    out = emb({"a": np.array([1]), "b": np.array([2]), "c": np.array([49])})
    assert tuple(out.shape) == (1, 8)


def test_config_round_trip_carries_widths():
    emb = dg.DimGrowEmbedding(
        [dg.FieldConfig("a", 5, dim=3, max_dim=4)], output_dim=6, alpha=0.1,
        regularizer="l1_sum", temperature=2.0, seed=3, name="e",
    )
    restored = config_round_trip(emb)
    assert restored.dims == {"a": 3} and restored.fields[0].max_dim == 4
    assert (restored.alpha, restored.regularizer, restored.temperature) == (0.1, "l1_sum", 2.0)


def test_grown_layer_round_trips_through_keras_file(tmp_path):
    fields = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, dim=2)]
    model, emb = make_search_model(fields)
    x, y = random_batch(fields, 64)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(1, 2), "b": dg.FieldResize.drop(2, [0])})
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    loaded_emb = next(l for l in loaded.layers if isinstance(l, dg.DimGrowEmbedding))
    assert loaded_emb.dims == {"a": 3, "b": 1}
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-7)
    saved_state = {v.path: v.numpy() for v in model.optimizer.variables}
    loaded_state = {v.path: v.numpy() for v in loaded.optimizer.variables}
    assert saved_state.keys() == loaded_state.keys()
    for path, value in saved_state.items():
        np.testing.assert_array_equal(loaded_state[path], value, err_msg=path)


@pytest.mark.parametrize(
    "inputs, error, message",
    [
        ({"a": np.array([1])}, ValueError, r"lack the field\(s\) \['b'\]"),
        ({"a": np.array([1.5]), "b": np.array([1])}, TypeError, "Field 'a' expects integer ids"),
        (np.zeros((2, 3), "int32"), ValueError, r"shape \(batch, 2\)"),
    ],
)
def test_bad_inputs_name_the_field(inputs, error, message):
    emb = dg.DimGrowEmbedding([dg.FieldConfig("a", 10), dg.FieldConfig("b", 7)])
    with pytest.raises(error, match=message):
        emb(inputs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(output_dim=0), "output_dim"),
        (dict(output_dim=2.5), "output_dim=2.5"),
        (dict(alpha=-1.0), "alpha=-1.0"),
        (dict(regularizer="l2"), "'l2'"),
        (dict(temperature=0.0), "temperature=0.0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dg.DimGrowEmbedding([dg.FieldConfig("a", 10)], **kwargs)
