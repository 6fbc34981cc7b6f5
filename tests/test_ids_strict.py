"""One id rule with and without XLA: out-of-range ids read the OOV row 0.

Ids are compared in the dtype the user passed (an int64 id is not wrapped
into int32 first), mapped to row 0 (the loader's OOV id, as the serving
graph does) and counted by the `out_of_range_ids` metric.
"""

import keras
import numpy as np
import pytest

import dimgrow_tf as dg

FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, dim=2)]


def _layer(kind):
    if kind == "dimgrow":
        return dg.DimGrowEmbedding(FIELDS, output_dim=3, seed=1)
    return dg.FixedFieldEmbedding(FIELDS, output_dim=3)


@pytest.mark.parametrize("kind", ["dimgrow", "fixed"])
@pytest.mark.parametrize("bad", [10, -1, 2**32 + 3, -(2**32) + 3, 2**31, 2**63 - 1])
def test_out_of_range_ids_read_the_oov_row_and_are_counted(kind, bad):
    layer = _layer(kind)
    x = {"a": np.array([3, bad], "int64"), "b": np.array([1, 2], "int64")}
    out = np.asarray(layer(x))
    ref = np.asarray(layer({"a": np.array([3, 0], "int64"), "b": np.array([1, 2], "int64")}))
    # 2**32 + 3 must not read row 3 (int32 wrap), it reads row 0.
    np.testing.assert_array_equal(out, ref)
    assert not np.array_equal(out[1], np.asarray(layer({"a": np.array([3]), "b": np.array([2])}))[0])
    layer.out_of_range_ids.reset_state()
    layer(x)
    layer(x)
    assert float(layer.out_of_range_ids.result()) == 2.0


@pytest.mark.parametrize("kind", ["dimgrow", "fixed"])
def test_valid_int64_and_uint_ids_read_their_rows(kind):
    layer = _layer(kind)
    as32 = {"a": np.array([3, 9], "int32"), "b": np.array([0, 6], "int32")}
    ref = np.asarray(layer(as32))
    for dtype in ("int64", "uint8", "int16"):
        x = {k: v.astype(dtype) for k, v in as32.items()}
        np.testing.assert_array_equal(np.asarray(layer(x)), ref)
    assert float(layer.out_of_range_ids.result()) == 0.0


def _fixed_model(jit_compile):
    inputs = {f.name: keras.Input((), dtype="int64", name=f.name) for f in FIELDS}
    emb = dg.FixedFieldEmbedding(FIELDS, output_dim=3)
    out = keras.layers.Dense(1, activation="sigmoid")(emb(inputs))
    model = keras.Model(inputs, out)
    model.compile("adam", "binary_crossentropy", jit_compile=jit_compile)
    return model


@pytest.mark.parametrize("jit_compile", [False, True])
def test_same_rule_in_fit_and_evaluate_with_and_without_xla(jit_compile):
    rng = np.random.default_rng(0)
    x = {"a": rng.integers(0, 10, 32), "b": rng.integers(0, 7, 32)}
    x["a"][[1, 5, 9]] = [10, -4, 2**32 + 3]  # 3 bad ids per epoch
    y = rng.integers(0, 2, 32).astype("float32")
    model = _fixed_model(jit_compile)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert history.history["out_of_range_ids"] == [3.0, 3.0]
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert logs["out_of_range_ids"] == 3.0
    clean = {"a": np.where((x["a"] < 0) | (x["a"] >= 10), 0, x["a"]), "b": x["b"]}
    np.testing.assert_allclose(
        model.predict(x, batch_size=8, verbose=0),
        model.predict(clean, batch_size=8, verbose=0),
        rtol=0, atol=0,
    )


def test_search_model_counts_out_of_range_ids_in_its_logs():
    fields = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7)]
    inputs = {f.name: keras.Input((), dtype="int64", name=f.name) for f in fields}
    emb = dg.DimGrowEmbedding(fields, output_dim=3, seed=1)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(emb(inputs)))
    model.compile("adam", "binary_crossentropy")
    x = {"a": np.array([1, 2, 30, 3] * 4), "b": np.array([0, -1, 6, 1] * 4)}
    y = np.zeros(16, "float32")
    search = dg.DimGrowCallback(emb, dg.SearchConfig(check_every=1000, monitor="loss"))
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[search])
    assert history.history["out_of_range_ids"] == [8.0]


def test_layer_without_counter_round_trips_its_config():
    layer = dg.FixedFieldEmbedding(FIELDS, output_dim=3, count_out_of_range=False)
    assert layer.out_of_range_ids is None
    restored = dg.FixedFieldEmbedding.from_config(layer.get_config())
    assert restored.out_of_range_ids is None
    out = np.asarray(restored({"a": np.array([11]), "b": np.array([1])}))
    assert out.shape == (1, 3)
