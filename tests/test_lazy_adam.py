import keras
import numpy as np
import pytest
import tensorflow as tf

import dimgrow_tf as dg
from conftest import make_search_model
from conftest import random_batch


def test_one_step_matches_hand_computed_lazy_adam_and_untouched_rows_are_identical():
    table = keras.Variable(np.arange(12, dtype="float32").reshape(6, 2) / 10.0)
    dense = keras.Variable(np.ones((2,), "float32"))
    opt = dg.LazyAdam(learning_rate=0.1)
    opt.build([table, dense])
    ids = tf.constant([4, 1, 4])
    with tf.GradientTape() as tape:
        rows = tf.gather(table.value, ids)
        loss = tf.reduce_sum(rows * tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])) + tf.reduce_sum(dense * dense)
    grads = tape.gradient(loss, [table.value, dense.value])
    assert isinstance(grads[0], tf.IndexedSlices)
    before = table.numpy().copy()
    opt.apply(grads, [table, dense])
    after = table.numpy()
    g = {4: np.array([6.0, 8.0]), 1: np.array([3.0, 4.0])}
    alpha = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    for row, grad in g.items():
        m, v = 0.1 * grad, 0.001 * grad**2
        np.testing.assert_allclose(after[row], before[row] - alpha * m / (np.sqrt(v) + 1e-7), rtol=1e-6)
        np.testing.assert_allclose(opt._momentums[0].numpy()[row], m, rtol=1e-6)
        np.testing.assert_allclose(opt._velocities[0].numpy()[row], v, rtol=5e-5)  # 1-b2 in float32
    untouched = [0, 2, 3, 5]
    np.testing.assert_array_equal(after[untouched], before[untouched])
    np.testing.assert_array_equal(opt._momentums[0].numpy()[untouched], 0.0)
    # Dense gradients get Keras's Adam update: w -= alpha * m / (sqrt(v) + eps), g = 2.
    np.testing.assert_allclose(dense.numpy(), 1 - alpha * 0.2 / (np.sqrt(0.004) + 1e-7), rtol=1e-6)


def test_second_step_leaves_rows_of_first_batch_untouched():
    table = keras.Variable(np.ones((5, 3), "float32"))
    opt = dg.LazyAdam(learning_rate=0.01)
    opt.build([table])
    for ids in ([0, 1], [3]):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(table.value, tf.constant(ids)) ** 2)
        grad = tape.gradient(loss, table.value)
        snapshot = (table.numpy().copy(), opt._momentums[0].numpy().copy(), opt._velocities[0].numpy().copy())
        opt.apply([grad], [table])
    others = [0, 1, 2, 4]
    np.testing.assert_array_equal(table.numpy()[others], snapshot[0][others])
    np.testing.assert_array_equal(opt._momentums[0].numpy()[others], snapshot[1][others])
    np.testing.assert_array_equal(opt._velocities[0].numpy()[others], snapshot[2][others])


def _fit_rows_then_others(optimizer):
    fields = [dg.FieldConfig("a", 50, dim=2), dg.FieldConfig("b", 7)]
    model, emb = make_search_model(fields, optimizer=optimizer)
    x, y = random_batch(fields, 64)
    x["a"] = x["a"] % 10
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    warm = emb.field_variables("a")["embeddings"].numpy()[:10].copy()
    x["a"] = 10 + x["a"]  # epoch 2 never touches rows 0..9
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model, emb, x, y, warm


def test_fit_keeps_rows_outside_the_batch_identical_unlike_dense_adam():
    _, emb, _, _, warm = _fit_rows_then_others(dg.LazyAdam(1e-2))
    np.testing.assert_array_equal(emb.field_variables("a")["embeddings"].numpy()[:10], warm)
    keras.backend.clear_session()
    _, emb, _, _, warm = _fit_rows_then_others(keras.optimizers.Adam(1e-2))
    assert not np.allclose(emb.field_variables("a")["embeddings"].numpy()[:10], warm)


def test_fit_resize_and_keras_round_trip(tmp_path):
    model, emb, x, y, warm = _fit_rows_then_others(dg.LazyAdam(1e-2))
    dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(2)})
    assert isinstance(model.optimizer, dg.LazyAdam)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_array_equal(emb.field_variables("a")["embeddings"].numpy()[:10, :2], warm)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer, dg.LazyAdam)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-7)


def test_rejects_dense_only_options():
    with pytest.raises(ValueError, match="amsgrad"):
        dg.LazyAdam(amsgrad=True)
    with pytest.raises(ValueError, match="weight_decay=0.1"):
        dg.LazyAdam(weight_decay=0.1)
