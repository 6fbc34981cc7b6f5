"""Mixed precision: float32 storage, row reads, loss scaling, save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from conftest import ScriptedGates
from conftest import make_search_model
from conftest import random_batch
from dimgrow_tf.keras_compat import optimizer_slots

FIELDS = [dg.FieldConfig("a", 12), dg.FieldConfig("b", 7), dg.FieldConfig("c", 5, dim=3)]


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _inner(optimizer):
    return getattr(optimizer, "inner_optimizer", optimizer)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"], indirect=True)
def test_mixed_policy_trains_and_keeps_float32_moving_means(policy):
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 64)
    before = emb.field_variables("a")["moving_mean"].numpy().copy() if emb.built else None
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    mean = emb.field_variables("a")["moving_mean"]
    assert mean.dtype == "float32" and mean.value.dtype == tf.float32
    assert before is None or np.any(mean.numpy() != before)
    assert np.all(np.isfinite(mean.numpy())) and np.any(mean.numpy() != 0.0)
    assert model(x, training=False).dtype == policy.split("_")[1]


def _full_table_reads(graph, vocab):
    """Ops reading or casting a whole (vocab, d) table in `graph`."""
    return [
        op
        for op in graph.get_operations()
        if op.type in ("Cast", "ReadVariableOp")
        and any(t.shape.rank == 2 and t.shape[0] == vocab for t in op.outputs)
    ]


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"],
                         indirect=True)
@pytest.mark.parametrize(
    "kind, training", [("dimgrow", False), ("dimgrow", True), ("fixed", False)]
)
def test_lookups_gather_rows_before_casting(policy, kind, training):
    fields = [dg.FieldConfig("a", 997, dim=2), dg.FieldConfig("b", 7, dim=1)]
    if kind == "dimgrow":
        layer = dg.DimGrowEmbedding(fields, output_dim=3, seed=1)
        call = lambda x: layer(x, training=training)  # noqa: E731
    else:  # FixedFieldEmbedding has no training mode
        layer = dg.FixedFieldEmbedding(fields, output_dim=3)
        call = layer
    x = {"a": tf.constant([1, 996]), "b": tf.constant([0, 6])}
    layer(x)
    graph = tf.function(call).get_concrete_function(x).graph
    assert not _full_table_reads(graph, 997)
    assert any(op.type == "ResourceGather" for op in graph.get_operations())


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"],
                         indirect=True)
@pytest.mark.parametrize("opt", ["adam", "lazy_adam"])
def test_policy_matrix_search_resizes_and_round_trips(policy, opt, tmp_path):
    inner = dg.LazyAdam(1e-2) if opt == "lazy_adam" else keras.optimizers.Adam(1e-2)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(inner)
    else:
        optimizer = inner
    model, emb = make_search_model(FIELDS, optimizer=optimizer)
    assert model.optimizer is optimizer
    x, y = random_batch(FIELDS, 128)
    # +5 is g ~ 1 (grow), -5 ~ 0 (shrink) for high=0.99 / low=0.01.
    plan = {2: {"a": [5.0]}, 4: {"a": [5.0], "b": [5.0]}, 6: {"c": [0.0, -5.0, 0.0]}}
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.99, low=0.01, check_every=2, window=1, max_dim=8, monitor="loss"))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[ScriptedGates(emb, plan), search])
    actions = {(e["field"], e["action"]) for e in search.history}
    assert {("a", "grow"), ("b", "grow"), ("c", "shrink")} <= actions
    assert emb.dims["a"] >= 3 and emb.dims["b"] >= 2 and emb.dims["c"] == 2
    assert emb.trace_counts["train"] == 1, "resized in place, no retrace"
    table = emb.field_variables("a")["embeddings"]
    slots = optimizer_slots(_inner(model.optimizer), table)
    assert set(slots) == {"_momentums", "_velocities"}
    for name in emb.dims:
        for variable in emb.field_variables(name).values():
            assert variable.dtype == "float32"
            assert variable.value.dtype == tf.float32
            for slot in optimizer_slots(_inner(model.optimizer), variable).values():
                assert slot.value.dtype == tf.float32
                assert tuple(tf.shape(slot.value).numpy()) == tuple(variable.shape)
    # The grown column of the table was trained (its moments are not zero).
    assert np.any(slots["_momentums"].numpy()[:, -1] != 0.0)

    path = tmp_path / "search.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    loaded_emb = next(l for l in loaded.layers if isinstance(l, dg.DimGrowEmbedding))
    assert loaded_emb.dims == emb.dims
    for name in emb.dims:
        for kind, variable in loaded_emb.field_variables(name).items():
            assert variable.dtype == "float32"
            np.testing.assert_array_equal(
                variable.numpy(), emb.field_variables(name)[kind].numpy()
            )
    np.testing.assert_array_equal(
        loaded.predict(x, batch_size=64, verbose=0),
        model.predict(x, batch_size=64, verbose=0),
    )


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"], indirect=True)
def test_mixed_precision_export_serves_float32_equal_to_the_eager_model(policy, tmp_path):
    from dimgrow_tf.export import export_saved_model

    fields = [dg.FieldConfig("a", 12), dg.FieldConfig("c", 6, dim=2)]
    model, emb = dg.build_search_model(fields, output_dim=8, seed=0)
    x, y = random_batch(fields, 64)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.001, low=0.0, check_every=2, window=1, max_dim=3, monitor="loss"))
    # Under mixed_float16 the first steps may be skipped while the loss
    # scale adjusts (the callback counts applied updates), hence 4 epochs.
    model.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[search])
    assert emb.dims == {"a": 3, "c": 3}
    path = export_saved_model(model, str(tmp_path), warmup=False)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    served = serve(**{k: tf.constant(v, tf.int64) for k, v in x.items()})["probability"]
    assert served.dtype == tf.float32
    eager = np.asarray(keras.ops.cast(model(x, training=False), "float32")).reshape(-1)
    # Stated tolerance: 1e-3 on probabilities (measured: equal).
    np.testing.assert_allclose(served.numpy().reshape(-1), eager, rtol=0, atol=1e-3)
