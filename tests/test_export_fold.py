import keras
import numpy as np
import pytest

import dimgrow_tf as dg
from dimgrow_tf.export import compact_model
from dimgrow_tf.export.compact_model import build_compact
from dimgrow_tf.export.fold_utils import fold_embedding


def _sig(t):
    return 1.0 / (1.0 + np.exp(-5.0 * np.asarray(t)))


def _golden_model():
    fields = [dg.FieldConfig("a", 3), dg.FieldConfig("b", 4, dim=2), dg.FieldConfig("z", 5, dim=0)]
    model, emb = dg.build_search_model(
        fields, backbone=lambda: keras.layers.Dense(1, activation="sigmoid"), output_dim=2
    )
    values = {
        "a": {"embeddings": [[1.0], [2.0], [3.0]], "projection": [[1.0, 0.0]],
              "gate_logits": [0.0], "moving_mean": [2.0]},
        "b": {"embeddings": [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]],
              "projection": [[0.0, 1.0], [1.0, 1.0]],
              "gate_logits": [0.2, -0.3], "moving_mean": [1.0, 10.0]},
    }
    for name, kinds in values.items():
        for kind, value in kinds.items():
            emb.field_variables(name)[kind].assign(np.array(value, "float32"))
    return model, emb, values


def test_fold_golden_weights():
    _, emb, values = _golden_model()
    folded = fold_embedding(emb)
    assert [(f.name, f.dim) for f in folded.fields] == [("a", 1), ("b", 2)]
    assert folded.dropped == ["z"] and folded.source == "searched"
    g_a, g_b = _sig([0.0]), _sig([0.2, -0.3])
    p_a, p_b = np.array(values["a"]["projection"]), np.array(values["b"]["projection"])
    np.testing.assert_allclose(
        folded.kernel, np.concatenate([g_a[:, None] * p_a, g_b[:, None] * p_b]), rtol=1e-6
    )
    bias = ((1 - g_a) * [2.0]) @ p_a + ((1 - g_b) * [1.0, 10.0]) @ p_b
    np.testing.assert_allclose(folded.bias, bias, rtol=1e-6)
    # Tables keep exactly the model's rows: ids (OOV 0, missing 1) are the model's.
    np.testing.assert_allclose(folded.tables["b"], values["b"]["embeddings"])
    assert folded.tables["a"].shape == (3, 1) and folded.widths == "current"


def test_compact_searched_model_predicts_inference_mode():
    keras.utils.set_random_seed(0)
    fields = [dg.FieldConfig("a", 20, dim=3), dg.FieldConfig("b", 9, dim=0),
              dg.FieldConfig("c", 11, dim=2), dg.FieldConfig("d", 5)]
    model, emb = dg.build_search_model(fields, output_dim=8, seed=2)
    rng = np.random.default_rng(0)
    x = {f.name: rng.integers(0, f.vocab_size, 300).astype("int32") for f in fields}
    model.fit(x, rng.integers(0, 2, 300).astype("float32"), batch_size=50, epochs=2, verbose=0)
    for f in fields:
        for kind, scale in (("embeddings", 1.0), ("gate_logits", 0.5), ("projection", 0.5)):
            v = emb.field_variables(f.name).get(kind)
            if v is not None:
                v.assign(rng.normal(0, scale, v.shape).astype("float32"))
    assert np.abs(emb.field_variables("a")["moving_mean"].numpy()).max() > 0
    small = compact_model(model)
    assert sorted(t.name for t in small.inputs) == ["a", "c", "d"]
    kept = {k: x[k] for k in ("a", "c", "d")}
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    got = keras.ops.convert_to_numpy(small(kept, training=False))
    assert np.ptp(expected) > 0.05
    np.testing.assert_allclose(got, expected, atol=1e-5)
    folded_layer = small.get_layer("folded_embedding")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(folded_layer(kept)),
        keras.ops.convert_to_numpy(emb(x, training=False)), atol=1e-5)
    names = [v.path for v in small.weights]
    assert [n for n in names if "gate_logits" in n or
            ("moving_mean" in n and "deep_bn" not in n)] == []
    # The copy is independent of the source model.
    model.get_layer("wide_deep").wide.kernel.assign(np.zeros((8, 1), "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(small(kept)), got, atol=1e-7)


def test_prune_gates_keeps_search_result_dims():
    model, emb, _ = _golden_model()
    gates = emb.gate_values()
    folded = fold_embedding(emb, prune_gates=True)
    result = dg.SearchResult.from_gates(emb.fields, gates)
    assert {f.name: f.dim for f in folded.fields} == {
        k: v for k, v in result.dims.items() if v > 0}
    assert folded.dropped == ["a", "z"]
    # A pruned column whose values all equal its moving mean loses nothing,
    # so the pruned export is exact then.
    emb.field_variables("b")["embeddings"].assign(
        np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0], [4.0, 10.0]], "float32"))
    emb.field_variables("a")["embeddings"].assign(np.full((3, 1), 2.0, "float32"))
    x = {"a": np.array([0, 1, 2]), "b": np.array([3, 1, 0]), "z": np.array([0, 0, 0])}
    small, folded = build_compact(model, prune_gates=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(small({"b": x["b"]})),
        keras.ops.convert_to_numpy(model(x, training=False)), atol=1e-6)


def test_search_result_dims_are_serialised():
    model, emb, _ = _golden_model()
    gates = emb.gate_values()      # a: [0.5], b: [0.73, 0.18]
    result = dg.SearchResult.from_gates(emb.fields, gates)
    by_result = fold_embedding(emb, result=result)
    by_gates = fold_embedding(emb, prune_gates=True)
    assert by_result.widths == "search_result" and by_result.notes == []
    assert [(f.name, f.dim) for f in by_result.fields] == [("b", 1)]
    assert by_result.dropped == ["a", "z"]
    np.testing.assert_allclose(by_result.kernel, by_gates.kernel)
    np.testing.assert_allclose(by_result.bias, by_gates.bias)
    # Other dims than gates > 0.5: the highest gates are kept, in place.
    result.fields = [f.with_dim(d) for f, d in zip(result.fields, (1, 1, 0))]
    folded = fold_embedding(emb, result=result)
    assert [(f.name, f.dim) for f in folded.fields] == [("a", 1), ("b", 1)]
    np.testing.assert_allclose(folded.tables["b"][:, 0], [1.0, 2.0, 3.0, 4.0])
    result.fields = [f.with_dim(d) for f, d in zip(result.fields, (1, 3, 0))]
    folded = fold_embedding(emb, result=result)
    assert folded.fields[1].dim == 2 and "only 2 columns" in folded.notes[0]
    small, _ = build_compact(model, result=result)
    x = {"a": np.array([0, 2]), "b": np.array([3, 1]), "z": np.array([0, 0])}
    np.testing.assert_allclose(   # all current columns kept: the exact fold
        keras.ops.convert_to_numpy(small({"a": x["a"], "b": x["b"]})),
        keras.ops.convert_to_numpy(model(x, training=False)), atol=1e-6)
    other = dg.SearchResult([dg.FieldConfig("a", 4, dim=1)])
    with pytest.raises(ValueError, match="the model has"):
        fold_embedding(emb, result=other)
    with pytest.raises(ValueError, match="not both"):
        fold_embedding(emb, prune_gates=True, result=result)


def test_fixed_model_copy_is_exact_and_drops_zero_fields():
    keras.utils.set_random_seed(1)
    fields = [dg.FieldConfig("a", 10, dim=2), dg.FieldConfig("b", 7, dim=0),
              dg.FieldConfig("c", 5, dim=3)]
    model = dg.build_model(fields, backbone="wide_deep", output_dim=6)
    rng = np.random.default_rng(1)
    x = {f.name: rng.integers(0, f.vocab_size, 64).astype("int32") for f in fields}
    model.fit(x, rng.integers(0, 2, 64).astype("float32"), epochs=1, verbose=0)
    small, folded = build_compact(model)
    assert folded.source == "fixed" and folded.dropped == ["b"] and folded.bias is None
    table = model.get_layer("field_embedding").embeddings["c"].embeddings.numpy()
    np.testing.assert_allclose(folded.tables["c"], table)
    assert folded.widths == "fixed"
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    got = keras.ops.convert_to_numpy(small({"a": x["a"], "c": x["c"]}, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    with pytest.raises(ValueError, match="need a searched model"):
        build_compact(model, prune_gates=True)


def test_rejects_models_it_cannot_fold():
    inputs = {"a": keras.Input((), dtype="int32", name="a")}
    plain = keras.Model(inputs, keras.layers.Dense(1)(keras.ops.expand_dims(
        keras.ops.cast(inputs["a"], "float32"), -1)))
    with pytest.raises(ValueError, match="exactly one top-level"):
        compact_model(plain)
    fields = [dg.FieldConfig("a", 10)]
    ins = {"a": keras.Input((), dtype="int32", name="a")}
    emb = dg.DimGrowEmbedding(fields, output_dim=4)
    bypass = keras.layers.Concatenate()([emb(ins), keras.ops.one_hot(ins["a"], 10)])
    two_paths = keras.Model(ins, keras.layers.Dense(1, activation="sigmoid")(bypass))
    with pytest.raises(ValueError, match="only path"):
        compact_model(two_paths)
