import pytest

from tfrs_helpers import LEGACY_PROBLEM

if LEGACY_PROBLEM:
    pytest.skip(LEGACY_PROBLEM, allow_module_level=True)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

import dimgrow_tf as dg  # noqa: E402
from dimgrow_tf.backend_compat import current_shape  # noqa: E402
from dimgrow_tf.keras_compat import optimizer_slots  # noqa: E402
from dimgrow_tf.resize.model_resize import prepare_resizing  # noqa: E402
from tfrs_helpers import make_search_model  # noqa: E402
from tfrs_helpers import random_batch  # noqa: E402
from tfrs_helpers import scripted_gates  # noqa: E402

FIELDS = [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, dim=2)]
OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(1e-2),
    "adam_ema": lambda: keras.optimizers.Adam(1e-2, use_ema=True),
    "adamw": lambda: keras.optimizers.AdamW(1e-2),
    "sgd_momentum": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    "rmsprop": lambda: keras.optimizers.RMSprop(1e-2, momentum=0.5),
}
# Step 2: a's gate saturates (grow 1 -> 2); b's second gate collapses
# (drop column 1, 2 -> 1). Step 4: both a gates saturate (grow 2 -> 3).
PLAN = {2: {"a": [5.0], "b": [0.0, -5.0]}, 4: {"a": [5.0, 5.0]}}


def _search(model, emb, epochs=2, plan=PLAN):
    x, y = random_batch(emb.fields, 96)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(monitor="loss", gate_updates="train"))
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0,
              callbacks=[scripted_gates(emb, plan), search])
    return search, x


def _slots(optimizer, variable):
    return {k: v.numpy().copy() for k, v in optimizer_slots(optimizer, variable).items()}


def test_field_variables_are_created_with_an_unknown_width_axis():
    emb = dg.DimGrowEmbedding(FIELDS, output_dim=4)
    emb.build()
    shapes = {k: v.shape.as_list() for k, v in emb.field_variables("b").items()}
    assert shapes == {"embeddings": [7, None], "projection": [None, 4],
                      "gate_logits": [None], "moving_mean": [None]}
    assert current_shape(emb.field_variables("b")["embeddings"]) == (7, 2)
    assert all(isinstance(v, tf.Variable) for v in emb.weights)


def test_search_grows_and_shrinks_in_place_and_traces_the_train_step_once():
    model, emb = make_search_model(FIELDS, keras.optimizers.Adam(1e-3))
    search, x = _search(model, emb)
    events = [(e["step"], e["field"], e["action"], e["from"], e["to"], e["dropped"])
              for e in search.history]
    assert events == [(2, "a", "grow", 1, 2, []), (2, "b", "shrink", 2, 1, [1]),
                      (4, "a", "grow", 2, 3, [])]
    assert emb.dims == {"a": 3, "b": 1}
    assert emb.trace_counts["train"] == 1
    table = emb.field_variables("a")["embeddings"]
    assert current_shape(table) == (10, 3)
    assert {k: tuple(tf.shape(v).numpy()) for k, v in _slots(model.optimizer, table).items()} \
        == {"_momentums": (10, 3), "_velocities": (10, 3)}
    assert emb.embedding_bytes() == 4 * (10 * 3 + 7 * 1)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (96, 1) and np.all(np.isfinite(probs))
    assert search.result().dims.keys() == {"a", "b"}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_slots_of_surviving_columns_carry_over_exactly(name):
    fields = [dg.FieldConfig("a", 10, dim=2), dg.FieldConfig("b", 7)]
    model, emb = make_search_model(fields, OPTIMIZERS[name]())
    prepare_resizing(model, emb)  # builds the optimizer with resizable slots
    x, y = random_batch(fields, 96)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    opt = model.optimizer
    table_a = emb.field_variables("a")["embeddings"]
    before_a = _slots(opt, table_a)
    before_b = _slots(opt, emb.field_variables("b")["embeddings"])
    n_variables = len(opt.variables())
    assert before_a and any(np.any(v != 0) for v in before_a.values())

    dg.apply_resize(model, emb, {"a": dg.FieldResize(keep=(1,), grow=1)})
    assert model.optimizer is opt and int(opt.iterations) == 3
    assert len(opt.variables()) == n_variables
    after_a = _slots(opt, table_a)
    assert set(after_a) == set(before_a)
    for attr, value in after_a.items():
        assert value.shape == (10, 2)
        np.testing.assert_array_equal(value[:, 0], before_a[attr][:, 1])
        if attr == "_model_variables_moving_average":  # EMA of the weights
            np.testing.assert_array_equal(value[:, 1], table_a.numpy()[:, 1])
        else:
            np.testing.assert_array_equal(value[:, 1], 0.0)
    for attr, value in _slots(opt, emb.field_variables("b")["embeddings"]).items():
        np.testing.assert_array_equal(value, before_b[attr])

    grown = table_a.numpy().copy()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    touched = np.unique(x["a"])
    assert np.all(table_a.numpy()[touched, 1] != grown[touched, 1]), "new column trained"
    assert int(opt.iterations) == 6


def test_adam_step_after_a_resize_matches_the_hand_computation():
    fields = [dg.FieldConfig("a", 10, dim=2)]
    model, emb = make_search_model(fields, keras.optimizers.Adam(0.1))
    prepare_resizing(model, emb)
    x, y = random_batch(fields, 32)
    x["a"] = np.arange(32, dtype="int32") % 10  # the first step touches every row
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    dg.apply_resize(model, emb, {"a": dg.FieldResize(keep=(0, 1), grow=1)})
    table = emb.field_variables("a")["embeddings"]
    slots = optimizer_slots(model.optimizer, table)
    m0, v0 = slots["_momentums"].numpy(), slots["_velocities"].numpy()
    w0 = table.numpy()
    assert np.all(m0[4:, :2] != 0) and np.all(m0[:, 2] == 0) and np.all(v0[:, 2] == 0)
    model.train_on_batch({"a": x["a"] % 4}, y)  # rows 4..9 are not in this batch
    m1, v1 = slots["_momentums"].numpy(), slots["_velocities"].numpy()
    # Rows outside the batch: tf_keras Adam decays their moments and moves
    # them by the decayed momentum (step 2); the new column stays at zero.
    b1, b2, lr, step, eps = 0.9, 0.999, 0.1, 2, 1e-7
    np.testing.assert_allclose(m1[4:], b1 * m0[4:], rtol=1e-6)
    np.testing.assert_allclose(v1[4:], b2 * v0[4:], rtol=1e-6)
    alpha = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
    expected = w0[4:] - alpha * m1[4:] / (np.sqrt(v1[4:]) + eps)
    np.testing.assert_allclose(table.numpy()[4:], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(table.numpy()[4:, 2], w0[4:, 2])
    assert np.all(table.numpy()[:4, 2] != w0[:4, 2]), "the new column of batch rows moved"


def test_keras_file_round_trip_keeps_the_searched_widths_and_outputs(tmp_path):
    model, emb = make_search_model(FIELDS, keras.optimizers.Adam(1e-3))
    _, x = _search(model, emb)
    expected = model.predict(x, verbose=0)
    path = str(tmp_path / "search.keras")
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    layer = next(lyr for lyr in loaded.layers if isinstance(lyr, dg.DimGrowEmbedding))
    assert layer.dims == {"a": 3, "b": 1}
    assert layer.field_variables("a")["embeddings"].shape.as_list() == [10, None]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
    np.testing.assert_array_equal(layer.seed_generator.state.numpy(),
                                  emb.seed_generator.state.numpy())
    config = emb.get_config()
    assert [f["dim"] for f in config["fields"]] == [3, 1]
    assert dg.DimGrowEmbedding.from_config(config).dims == {"a": 3, "b": 1}


def test_darts_gate_updates_fail_clearly_under_tf_keras():
    model, emb = make_search_model(FIELDS)
    x, y = random_batch(FIELDS, 32)
    gate_data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    search = dg.DimGrowCallback(emb, gate_data=gate_data)
    with pytest.raises(NotImplementedError, match="need Keras 3"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[search])


def test_legacy_optimizers_are_refused():
    model, emb = make_search_model(FIELDS, keras.optimizers.legacy.Adam(1e-2))
    with pytest.raises(NotImplementedError, match="legacy tf_keras optimizer"):
        prepare_resizing(model, emb)


def test_optimizers_that_size_slots_from_static_shapes_are_refused():
    model, emb = make_search_model(FIELDS, keras.optimizers.Adagrad(1e-2))
    with pytest.raises(NotImplementedError, match="Adagrad.*static shape"):
        prepare_resizing(model, emb)
