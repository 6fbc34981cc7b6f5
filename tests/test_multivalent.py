"""Multi-valent fields: lists of ids per row, combined, searched like any field."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from conftest import ScriptedGates
from conftest import config_round_trip
from dimgrow_tf.data.datasets import to_dataset

PAD = dg.field_config.PAD_ID
FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("g", 6, dim=2, combiner="mean")]
LISTS = [[1, 2], [3], []]
PADDED = np.array([[1, 2, PAD], [3, PAD, PAD], [PAD, PAD, PAD]])


def _fixed(combiner, dim=2):
    field = dg.FieldConfig("g", 6, dim=dim, combiner=combiner)
    layer = dg.FixedFieldEmbedding([field], output_dim=dim)
    layer.build()
    table = np.arange(12, dtype="float32").reshape(6, 2)
    layer.embeddings["g"].embeddings.assign(table)
    layer.projection.kernel.assign(np.eye(2, dtype="float32"))
    return layer, table


@pytest.mark.parametrize("combiner", ["mean", "sum", "sqrtn"])
def test_combiners_golden(combiner):
    layer, t = _fixed(combiner)
    out = keras.ops.convert_to_numpy(layer({"g": PADDED}))
    total = np.stack([t[1] + t[2], t[3], np.zeros(2)])
    count = np.array([2.0, 1.0, 1.0])[:, None]   # an empty row gives zeros
    scale = {"mean": count, "sum": np.ones_like(count), "sqrtn": np.sqrt(count)}[combiner]
    np.testing.assert_allclose(out, total / scale, rtol=1e-6)


@pytest.mark.parametrize("kind", ["dimgrow", "fixed"])
def test_ragged_sparse_and_padded_inputs_agree(kind):
    cls = dg.DimGrowEmbedding if kind == "dimgrow" else dg.FixedFieldEmbedding
    layer = cls(FIELDS, output_dim=3)
    a = np.array([4, 5, 6])
    padded = keras.ops.convert_to_numpy(layer({"a": a, "g": PADDED}))
    ragged = layer({"a": a, "g": tf.ragged.constant(LISTS, dtype=tf.int64)})
    sparse = layer({"a": a, "g": tf.ragged.constant(LISTS).to_sparse()})
    wider = np.concatenate([PADDED, np.full((3, 2), PAD)], axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ragged), padded, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(sparse), padded, rtol=1e-6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer({"a": a, "g": wider})), padded, rtol=1e-6)
    # The list order does not matter; one id per row may be given as (batch,).
    swapped = np.array([[2, 1, PAD], [3, PAD, PAD], [PAD, PAD, PAD]])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer({"a": a, "g": swapped})), padded, rtol=1e-6)
    single = keras.ops.convert_to_numpy(layer({"a": a, "g": np.array([3, 3, 3])}))
    np.testing.assert_allclose(single[1], padded[1], rtol=1e-6)


@pytest.mark.parametrize("kind", ["dimgrow", "fixed"])
def test_out_of_range_ids_in_lists_read_row_zero_and_are_counted(kind):
    cls = dg.DimGrowEmbedding if kind == "dimgrow" else dg.FixedFieldEmbedding
    layer = cls(FIELDS, output_dim=3)
    a = np.array([1, 2])
    bad = np.array([[1, 99, PAD], [-5, 2**40, PAD]], "int64")
    clean = np.array([[1, 0, PAD], [0, 0, PAD]], "int64")
    out = keras.ops.convert_to_numpy(layer({"a": a, "g": bad}))
    layer.out_of_range_ids.reset_state()
    ref = keras.ops.convert_to_numpy(layer({"a": a, "g": clean}))
    assert float(layer.out_of_range_ids.result()) == 0.0, "padding is not counted"
    np.testing.assert_array_equal(out, ref)
    layer({"a": a, "g": bad})
    assert float(layer.out_of_range_ids.result()) == 3.0


def test_single_valued_field_rejects_lists_naming_the_field():
    layer = dg.DimGrowEmbedding(FIELDS, output_dim=3)
    with pytest.raises(ValueError, match="'a' is single-valued.*combiner"):
        layer({"a": tf.ragged.constant([[1, 2], [3]]), "g": PADDED[:2]})
    with pytest.raises(ValueError, match="'a' expects ids of shape.*combiner"):
        layer({"a": np.array([[1, 2], [3, 4]]), "g": PADDED[:2]})
    with pytest.raises(ValueError, match=r"\['g'\] need a dict input"):
        layer(np.array([[1, 2], [3, 4]]))
    with pytest.raises(TypeError, match="'g' expects integer ids"):
        layer({"a": np.array([1]), "g": np.array([[0.5]])})


def test_field_config_round_trip_and_checks():
    f = dg.FieldConfig("g", 6, combiner="sqrtn", max_len=4)
    assert f.multivalent and config_round_trip(f) == f
    assert f.with_dim(3).combiner == "sqrtn"
    plain = dg.FieldConfig("a", 3)
    assert not plain.multivalent
    assert plain.get_config() == {"name": "a", "vocab_size": 3, "dim": 1, "max_dim": None}
    with pytest.raises(ValueError, match="'g'.*combiner=.max."):
        dg.FieldConfig("g", 6, combiner="max")
    with pytest.raises(ValueError, match="'g'.*max_len.*needs a .combiner"):
        dg.FieldConfig("g", 6, max_len=3)
    with pytest.raises(ValueError, match="max_len=0"):
        dg.FieldConfig("g", 6, combiner="mean", max_len=0)


def test_builders_take_lists_with_fixed_or_any_length():
    fields = [dg.FieldConfig("a", 10), dg.FieldConfig("g", 6, combiner="sum", max_len=3)]
    model, _ = dg.build_search_model(fields, output_dim=4)
    assert tuple(_input(model, "g").shape) == (None, 3)
    fixed = dg.build_model(FIELDS, output_dim=4)
    assert tuple(_input(fixed, "g").shape) == (None, None)
    assert tuple(_input(fixed, "a").shape) == (None,)


def _input(model, name):
    return next(t for t in model.inputs if t.name == name)


def test_lookup_touches_only_rows_of_the_batch_with_lazy_adam():
    model = dg.build_model([FIELDS[0], FIELDS[1].with_dim(2)], backbone="mlp", output_dim=4)
    table = model.get_layer("field_embedding").embeddings["g"].embeddings
    y = np.array([1, 0, 1, 0], "float32")
    # Rows 0 and 4 get Adam moments first; then batches without id 0.
    model.fit({"a": np.array([1, 2, 3, 4]), "g": np.array([[0, 4]] * 4)}, y,
              batch_size=4, epochs=1, verbose=0)
    before = table.numpy().copy()
    x = {"a": np.array([1, 2, 3, 4]),
         "g": np.array([[4, 5, PAD], [5, PAD, PAD], [PAD, 4, PAD], [4, 4, 5]])}
    model.fit(x, y, batch_size=4, epochs=3, verbose=0)
    after = table.numpy()
    assert np.all(after[[4, 5]] != before[[4, 5]])
    # Padding reads a row of its own list, not row 0: LazyAdam leaves row 0
    # (whose moments would otherwise keep moving it) and rows 1..3 untouched.
    np.testing.assert_array_equal(after[:4], before[:4])


def _lists(n, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 4, n)
    return [list(rng.integers(0, 6, k)) for k in lengths]


def _padded(lists, length=3):
    return np.array([row + [PAD] * (length - len(row)) for row in lists], "int32")


def test_search_with_a_multivalent_field_resizes_in_place_once_traced():
    fields = [dg.FieldConfig("a", 12), dg.FieldConfig("g", 6, combiner="mean"),
              dg.FieldConfig("c", 5, dim=3, combiner="sqrtn")]
    model, emb = dg.build_search_model(fields, backbone="mlp", output_dim=4, seed=1)
    rng = np.random.default_rng(0)
    x = {"a": rng.integers(0, 12, 192), "g": _padded(_lists(192, 1)),
         "c": _padded(_lists(192, 2))}
    y = rng.integers(0, 2, 192).astype("float32")
    valid = to_dataset({"a": x["a"][:64], "g": x["g"][:64], "c": x["c"][:64]}, y[:64], 32)
    plan = {2: {"g": [5.0]}, 4: {"g": [5.0], "a": [5.0]}, 6: {"c": [0.0, -5.0, 0.0]},
            8: {"g": [5.0]}}
    config = dg.SearchConfig(high=0.99, low=0.01, check_every=2, window=1, max_dim=8)
    search = dg.DimGrowCallback(emb, config)
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_data=valid,
              callbacks=[ScriptedGates(emb, plan), search])
    actions = [(e["field"], e["action"]) for e in search.history]
    assert ("c", "shrink") in actions and actions.count(("g", "grow")) >= 2
    assert emb.dims["g"] >= 3 and emb.dims["c"] == 2
    assert emb.trace_counts == {"train": 1, "inference": 1}
    shapes = {kind: tuple(tf.shape(v.value).numpy())
              for kind, v in emb.field_variables("g").items()}
    d = emb.dims["g"]
    assert shapes == {"embeddings": (6, d), "projection": (d, 4), "gate_logits": (d,),
                      "moving_mean": (d,)}
    traced = model.predict(x, batch_size=64, verbose=0)
    eager = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(traced, eager, rtol=1e-5, atol=1e-6)


def test_ragged_dataset_trains_and_the_model_round_trips(tmp_path):
    lists = _lists(64, 3)
    rng = np.random.default_rng(4)
    a = rng.integers(0, 10, 64)
    y = rng.integers(0, 2, 64).astype("float32")
    ragged = tf.data.Dataset.from_tensor_slices(
        ({"a": a, "g": tf.ragged.constant(lists)}, y)).batch(16)
    model, emb = dg.build_search_model(FIELDS, output_dim=4, seed=0)
    history = model.fit(ragged, epochs=2, verbose=0)
    assert history.history["out_of_range_ids"] == [0.0, 0.0]
    padded = {"a": a, "g": _padded(lists)}
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(padded, verbose=0),
                               model.predict(ragged, verbose=0), rtol=1e-5, atol=1e-6)
    assert loaded.get_layer("dimgrow_embedding").fields[1].combiner == "mean"


@pytest.mark.parametrize("jit_compile", [False, True])
def test_fixed_model_with_lists_trains_with_and_without_xla(jit_compile):
    model = dg.build_model([FIELDS[0], FIELDS[1].with_dim(3)], backbone="mlp", output_dim=4)
    model.compile(dg.LazyAdam(1e-2), "binary_crossentropy", jit_compile=jit_compile)
    lists = _lists(32, 5)
    x = {"a": np.arange(32) % 10, "g": _padded(lists)}
    x["g"][[0, 7], 0] = [6, -3]   # 2 out-of-range ids per epoch
    history = model.fit(x, np.arange(32) % 2, batch_size=8, epochs=2, verbose=0)
    assert history.history["out_of_range_ids"] == [2.0, 2.0]
    clean = dict(x, g=np.where((x["g"] >= 6) | (x["g"] < PAD), 0, x["g"]))
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0),
                               model.predict(clean, batch_size=8, verbose=0), rtol=0, atol=0)
