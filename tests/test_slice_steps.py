"""Per-slice bias correction: a grown slice gets a fresh Adam's update."""

import keras
import numpy as np
import tensorflow as tf

import dimgrow_tf as dg
from conftest import ScriptedGates
from conftest import random_batch
from dimgrow_tf.keras_compat import reindex_optimizer
from dimgrow_tf.resize.optimizer_state import resize_optimizer_state
from dimgrow_tf.resize.optimizer_state import set_optimizer_storage
from dimgrow_tf.resize.resize_utils import VariableRemap
from dimgrow_tf.resize.resize_utils import make_resizable
from dimgrow_tf.resize.resize_utils import resize_variable

LR, B1, B2, EPS = 0.01, 0.9, 0.999, 1e-7


def _adam_delta(m, v, t):
    """Keras Adam's step `alpha_t * m / (sqrt(v) + eps)` at (per-slice) step t."""
    alpha = LR * np.sqrt(1 - B2**t) / (1 - B1**t)
    return alpha * m / (np.sqrt(v) + EPS)


def _grow(opt, variable, axis):
    width = variable.shape[axis]
    resize_variable(variable, axis, tuple(range(width)), 1)
    resize_optimizer_state(opt, [VariableRemap(variable, axis, tuple(range(width)), 1, False)])


def _setup(value, axis):
    variable = keras.Variable(value)
    opt = dg.LazyAdam(LR)
    opt.build([variable])
    make_resizable(variable, axis)
    reindex_optimizer(opt)
    set_optimizer_storage(opt, [(variable, axis)], resizable=True)
    return variable, opt


def test_dense_grown_row_gets_fresh_adam_steps_old_rows_keras_adam():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(2, 3)).astype("float32")
    projection, opt = _setup(start, axis=0)
    reference = keras.Variable(start)
    keras_adam = keras.optimizers.Adam(LR)
    grads = [rng.normal(size=(2, 3)).astype("float32") for _ in range(40)]
    for g in grads:
        opt.apply([tf.constant(g)], [projection])
        keras_adam.apply([tf.constant(g)], [reference])
    np.testing.assert_allclose(projection.numpy(), reference.numpy(), rtol=1e-5, atol=1e-7)

    _grow(opt, projection, axis=0)
    assert projection.shape == (3, 3)
    fresh = projection.numpy()[2].copy()
    m_old = opt._momentums[0].numpy()[:2].copy()
    v_old = opt._velocities[0].numpy()[:2].copy()
    old = projection.numpy()[:2].copy()
    g1, g2 = rng.normal(size=(3, 3)).astype("float32"), rng.normal(size=(3, 3)).astype("float32")
    opt.apply([tf.constant(g1)], [projection])
    # The new row's first step is a fresh Adam's (t = 1): about lr * sign(g).
    m1, v1 = (1 - B1) * g1[2], (1 - B2) * g1[2] ** 2
    np.testing.assert_allclose(projection.numpy()[2], fresh - _adam_delta(m1, v1, 1), rtol=1e-5)
    assert np.all(np.abs(projection.numpy()[2] - fresh) <= LR * 1.01)
    # Old rows keep the global step (t = 41), moments carried.
    m, v = B1 * m_old + (1 - B1) * g1[:2], B2 * v_old + (1 - B2) * g1[:2] ** 2
    np.testing.assert_allclose(projection.numpy()[:2], old - _adam_delta(m, v, 41), rtol=1e-5)
    before = projection.numpy()[2].copy()
    opt.apply([tf.constant(g2)], [projection])
    m2, v2 = B1 * m1 + (1 - B1) * g2[2], B2 * v1 + (1 - B2) * g2[2] ** 2
    np.testing.assert_allclose(projection.numpy()[2], before - _adam_delta(m2, v2, 2), rtol=1e-5)
    assert opt.slice_steps.get_state() == {projection.path: [0, 0, 40]}


def test_sparse_grown_column_gets_fresh_adam_step_and_shrink_keeps_births():
    table, opt = _setup(np.zeros((5, 2), "float32"), axis=1)
    for _ in range(30):
        opt.apply([tf.IndexedSlices(tf.ones((1, 2)), tf.constant([0]))], [table])
    _grow(opt, table, axis=1)
    g = np.array([[0.5, -2.0, 4.0]], "float32")
    before = table.numpy().copy()
    opt.apply([tf.IndexedSlices(tf.constant(g), tf.constant([3]))], [table])
    m1, v1 = (1 - B1) * g[0, 2], (1 - B2) * g[0, 2] ** 2
    np.testing.assert_allclose(table.numpy()[3, 2], before[3, 2] - _adam_delta(m1, v1, 1), rtol=1e-5)
    # Row 3's old columns start from zero moments too but at the global step 31.
    m_old, v_old = (1 - B1) * g[0, :2], (1 - B2) * g[0, :2] ** 2
    np.testing.assert_allclose(table.numpy()[3, :2], before[3, :2] - _adam_delta(m_old, v_old, 31),
                               rtol=1e-5)
    # Dropping column 0 keeps the births of the survivors.
    resize_variable(table, 1, (1, 2), 0)
    resize_optimizer_state(opt, [VariableRemap(table, 1, (1, 2), 0, False)])
    assert opt.slice_steps.get_state() == {table.path: [0, 30]}


def test_search_saves_and_restores_slice_steps_with_the_weights(tmp_path):
    fields = [dg.FieldConfig("a", 20), dg.FieldConfig("b", 9)]
    x, y = random_batch(fields, 64)
    model, emb = dg.build_search_model(fields, output_dim=4, seed=0)
    assert isinstance(model.optimizer, dg.LazyAdam)
    config = dg.SearchConfig(check_every=1, max_dim=4, monitor="loss")
    search = dg.DimGrowCallback(emb, config)
    grow = ScriptedGates(emb, {3: {"a": [5.0]}})
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[grow, search])
    assert emb.dims["a"] >= 2
    births = search.get_state()["slice_steps"]["model"]
    table = emb.field_variables("a")["embeddings"]
    assert births[table.path][:2] == [0, 3]
    path = str(tmp_path / "search.weights.h5")
    model.save_weights(path)

    keras.backend.clear_session()
    fresh, fresh_emb = dg.build_search_model(fields, output_dim=4, seed=0)
    fresh_search = dg.DimGrowCallback(fresh_emb, config)
    fresh.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[fresh_search],
              steps_per_epoch=1)
    fresh.load_weights(path)
    assert fresh_emb.dims == emb.dims
    restored = fresh_search.get_state()["slice_steps"]["model"]
    assert restored[fresh_emb.field_variables("a")["embeddings"].path] == births[table.path]
