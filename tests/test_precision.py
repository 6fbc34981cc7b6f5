"""Mixed precision: float32 storage, row reads, loss scaling, save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
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


class _Script(keras.callbacks.Callback):
    """Sets gate logits before chosen checks so the rule grows or shrinks."""

    def __init__(self, emb, plan):
        super().__init__()
        self.emb, self.plan, self.step = emb, plan, 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        for name, logits in self.plan.get(self.step, {}).items():
            var = self.emb.field_variables(name)["gate_logits"]
            var.assign(np.resize(np.asarray(logits, "float32"), var.shape))


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
@pytest.mark.parametrize("kind", ["dimgrow", "fixed"])
@pytest.mark.parametrize("training", [False, True])
def test_lookups_gather_rows_before_casting(policy, kind, training):
    fields = [dg.FieldConfig("a", 997, dim=2), dg.FieldConfig("b", 7, dim=1)]
    if kind == "dimgrow":
        layer = dg.DimGrowEmbedding(fields, output_dim=3, seed=1)
        call = lambda x: layer(x, training=training)  # noqa: E731
    else:
        if training:
            pytest.skip("FixedFieldEmbedding has no training mode")
        layer = dg.FixedFieldEmbedding(fields, output_dim=3)
        call = layer
    x = {"a": tf.constant([1, 996]), "b": tf.constant([0, 6])}
    layer(x)
    graph = tf.function(call).get_concrete_function(x).graph
    assert not _full_table_reads(graph, 997)
    assert any(op.type == "ResourceGather" for op in graph.get_operations())
