"""Resizes assign into the same storage: no retrace, true memory, fallback."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from conftest import ScriptedGates
from conftest import make_search_model
from conftest import random_batch
from dimgrow_tf.data.datasets import to_dataset
from dimgrow_tf.keras_compat import optimizer_slots
from dimgrow_tf.resize import resize_utils
from dimgrow_tf.resize.optimizer_state import dynamic_widths_supported

FIELDS = [dg.FieldConfig("a", 12), dg.FieldConfig("b", 7), dg.FieldConfig("c", 5, dim=3)]


def _scripted_fit(optimizer="adam", epochs=3):
    model, emb = make_search_model(FIELDS, optimizer=optimizer)
    x, y = random_batch(FIELDS, 192)
    valid = to_dataset(*random_batch(FIELDS, 64, seed=1), 32)
    # high/low make the rule follow the scripted gates: +5 is g ~ 1, -5 ~ 0.
    plan = {2: {"a": [5.0]}, 4: {"a": [5.0], "b": [5.0]}, 6: {"c": [0.0, -5.0, 0.0]},
            8: {"a": [5.0]}}
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.99, low=0.01, check_every=2, window=1, max_dim=8, monitor="val_auc"))
    # The script runs first so that each check sees the scripted gates.
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, validation_data=valid,
              callbacks=[ScriptedGates(emb, plan), search])
    return model, emb, search, x, y


def test_fit_with_grows_and_shrinks_traces_each_function_once():
    model, emb, search, x, y = _scripted_fit()
    actions = [(e["field"], e["action"]) for e in search.history]
    assert actions.count(("c", "shrink")) >= 1
    assert sum(a == "grow" for _, a in actions) >= 3
    assert len({e["step"] for e in search.history}) >= 4, "several checks resized"
    assert emb.dims["c"] == 2 and emb.dims["a"] >= 3
    # Train step traced once; validation (test function) traced once.
    assert emb.trace_counts == {"train": 1, "inference": 1}
    model.evaluate(x, y, verbose=0)
    with pytest.warns(UserWarning, match="val_auc"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[search])
    assert emb.trace_counts["train"] == 1, "a second fit reuses the traced step"


def test_traced_functions_compute_with_the_new_widths():
    model, emb, search, x, y = _scripted_fit(epochs=1)
    traced = model.predict(x, batch_size=64, verbose=0)
    eager = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(traced, eager, rtol=1e-6, atol=1e-7)
    traced_loss = model.evaluate(x, y, batch_size=len(y), verbose=0, return_dict=True)["loss"]
    eager_loss = float(model.compute_loss(x=x, y=y, y_pred=model(x, training=False)))
    np.testing.assert_allclose(traced_loss, eager_loss, rtol=1e-5)


def test_grown_column_is_trained_by_the_traced_step():
    model, emb = make_search_model(FIELDS, optimizer=keras.optimizers.Adam(1e-2))
    x, y = random_batch(FIELDS, 64)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    # Without DimGrowCallback the first resize gives the optimizer's slots
    # resizable storage (one retrace); later resizes retrace nothing.
    dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(1)})
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    traces = emb.trace_counts["train"]
    dg.apply_resize(model, emb, {"a": dg.FieldResize.drop(2, [1]), "b": dg.FieldResize.grow_by(1)})
    dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(1)})
    table = emb.field_variables("a")["embeddings"]
    before = table.numpy().copy()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert emb.trace_counts["train"] == traces
    touched = np.unique(x["a"])
    assert np.all(table.numpy()[touched, 1] != before[touched, 1]), "new column trained"
    slots = optimizer_slots(model.optimizer, table)
    assert set(slots) == {"_momentums", "_velocities"}
    for slot in slots.values():
        assert tuple(tf.shape(slot.value).numpy()) == (12, 2)
        assert np.any(slot.numpy()[:, 1] != 0.0)


@pytest.mark.parametrize("optimizer", ["adam", "lazy"])
def test_memory_is_the_current_widths_in_variables_and_slots(optimizer):
    opt = dg.LazyAdam(1e-2) if optimizer == "lazy" else keras.optimizers.Adam(1e-2)
    model, emb, search, x, y = _scripted_fit(optimizer=opt, epochs=1)
    dims = emb.dims
    allocated = 0
    for name, d in dims.items():
        variables = emb.field_variables(name)
        table = variables["embeddings"]
        assert tuple(tf.shape(table.value).numpy()) == (emb.fields[[f.name for f in emb.fields].index(name)].vocab_size, d)
        allocated += int(tf.size(table.value)) * 4
        for slot in optimizer_slots(model.optimizer, table).values():
            assert tuple(tf.shape(slot.value).numpy()) == tuple(table.shape)
        for kind in ("gate_logits", "moving_mean"):
            assert int(tf.shape(variables[kind].value)[0]) == d
    vocab = {f.name: f.vocab_size for f in emb.fields}
    assert allocated == emb.embedding_bytes() == 4 * sum(vocab[n] * d for n, d in dims.items())


def test_xla_is_switched_off_for_the_search_with_a_warning():
    model, emb = make_search_model(FIELDS)
    model.compile("adam", "binary_crossentropy", jit_compile=True)
    x, y = random_batch(FIELDS, 64)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.001, low=0.0, check_every=1, window=1, max_dim=3, monitor="loss"))
    with pytest.warns(UserWarning, match="XLA"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[search])
    assert model.jit_compile is False
    assert emb.dims["a"] == 3 and emb.trace_counts["train"] == 1


def test_refused_dynamic_shape_falls_back_to_retracing(monkeypatch):
    real = resize_utils.dynamic_variable

    def refuse_unknown_axes(value, shape, **kwargs):
        if not shape.is_fully_defined():
            raise NotImplementedError("this strategy wants static shapes")
        return real(value, shape=shape, **kwargs)

    monkeypatch.setattr(resize_utils, "dynamic_variable", refuse_unknown_axes)
    monkeypatch.setattr(resize_utils, "_REFUSED", set())
    with pytest.warns(RuntimeWarning, match="fall back to re-creating") as warned:
        model, emb = make_search_model(FIELDS, optimizer=keras.optimizers.Adam(1e-2))
        x, y = random_batch(FIELDS, 64)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        traces = emb.trace_counts["train"]
        m_before = optimizer_slots(model.optimizer, emb.field_variables("a")["embeddings"])
        m_before = m_before["_momentums"].numpy().copy()
        dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(1)})
    assert len(warned) == 1, "warned once, not once per variable"
    table = emb.field_variables("a")["embeddings"]
    assert not resize_utils.is_resizable(table, 1)
    m_after = optimizer_slots(model.optimizer, table)["_momentums"].numpy()
    np.testing.assert_array_equal(m_after[:, 0], m_before[:, 0])
    np.testing.assert_array_equal(m_after[:, 1], 0.0)
    before = table.numpy().copy()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert emb.trace_counts["train"] == traces + 1, "the fallback retraces after a resize"
    assert not np.allclose(table.numpy(), before), "the re-created table is trained"
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               keras.ops.convert_to_numpy(model(x, training=False)),
                               rtol=1e-6, atol=1e-7)


def test_optimizers_keras_cannot_train_at_unknown_width_fall_back():
    """RMSprop adds row-sparse gradients; Keras 3.8 needs static widths for it."""
    model, emb = make_search_model(FIELDS, optimizer=keras.optimizers.RMSprop(1e-2))
    x, y = random_batch(FIELDS, 64)
    search = dg.DimGrowCallback(emb, dg.SearchConfig(high=0.001, low=0.0, check_every=1, window=1, max_dim=3, monitor="loss"))
    in_place = dynamic_widths_supported(model.optimizer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[search])
    fell_back = [w for w in caught if "cannot train ['RMSprop']" in str(w.message)]
    assert emb.dims == {"a": 3, "b": 3, "c": 3}
    resizing_checks = len({e["step"] for e in search.history})
    assert resizing_checks == 2
    if in_place:
        assert not fell_back and emb.trace_counts["train"] == 1
    else:
        assert len(fell_back) == 1
        assert emb.trace_counts["train"] == 1 + resizing_checks
    assert dynamic_widths_supported(keras.optimizers.Adam())
    assert dynamic_widths_supported(dg.LazyAdam())
