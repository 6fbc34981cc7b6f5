import numpy as np
import pytest
import keras

import dimgrow_tf as dg
from dimgrow_tf.keras_compat import optimizer_slots
from conftest import make_search_model
from conftest import random_batch

FIELDS = [dg.FieldConfig("a", 10, dim=2), dg.FieldConfig("b", 7)]
OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(1e-2),
    "adam_ema": lambda: keras.optimizers.Adam(1e-2, use_ema=True),
    "adamw": lambda: keras.optimizers.AdamW(1e-2),
    "sgd_momentum": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    "adagrad": lambda: keras.optimizers.Adagrad(1e-2),
    "rmsprop": lambda: keras.optimizers.RMSprop(1e-2, momentum=0.5),
}


def _slots(optimizer, variable):
    return {k: v.numpy().copy() for k, v in optimizer_slots(optimizer, variable).items()}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_slots_carried_exactly_and_new_width_trained(name):
    model, emb = make_search_model(FIELDS, optimizer=OPTIMIZERS[name]())
    x, y = random_batch(FIELDS, 96)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    opt = model.optimizer
    table_a = emb.field_variables("a")["embeddings"]
    slots_a = _slots(opt, table_a)
    slots_b = _slots(opt, emb.field_variables("b")["embeddings"])
    n_opt_vars = len(opt.variables)
    assert slots_a, "optimizer has per-variable slots"
    assert any(np.any(v != 0) for v in slots_a.values())

    dg.apply_resize(model, emb, {"a": dg.FieldResize(keep=(1,), grow=1)})
    assert model.optimizer is opt, "state moves in place; callbacks keep a valid optimizer"
    assert int(opt.iterations) == 3
    assert len(opt.variables) == n_opt_vars
    resized = _slots(opt, table_a)
    assert set(resized) == set(slots_a)
    for attr, value in resized.items():
        assert value.shape == (10, 2)
        np.testing.assert_array_equal(value[:, 0], slots_a[attr][:, 1])
        if attr == "_model_variables_moving_average":  # EMA of the weights
            np.testing.assert_array_equal(value[:, 1], table_a.numpy()[:, 1])
        else:
            np.testing.assert_array_equal(value[:, 1], 0.0)
    for attr, value in _slots(opt, emb.field_variables("b")["embeddings"]).items():
        np.testing.assert_array_equal(value, slots_b[attr])

    before = table_a.numpy().copy()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    touched = np.unique(x["a"])
    assert np.all(table_a.numpy()[touched, 1] != before[touched, 1]), "new column trained"
    assert int(model.optimizer.iterations) == 6


def test_adam_step_after_resize_matches_hand_computation():
    model, emb = make_search_model(FIELDS, optimizer=keras.optimizers.Adam(1e-2))
    x, y = random_batch(FIELDS, 32)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(2)})
    opt = model.optimizer
    var = emb.field_variables("a")["projection"]
    slots = _slots(opt, var)
    m0, v0 = slots["_momentums"], slots["_velocities"]
    w0 = var.numpy().copy()
    import tensorflow as tf

    with tf.GradientTape() as tape:
        pred = model(x, training=False)
        loss = model.compute_loss(x=x, y=y, y_pred=pred)
    grad = tape.gradient(loss, var.value).numpy()
    model.optimizer.apply([tf.constant(grad)], [var])
    t = 2
    m = 0.9 * m0 + 0.1 * grad
    v = 0.999 * v0 + 0.001 * grad**2
    lr = 1e-2 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
    np.testing.assert_allclose(var.numpy(), w0 - lr * m / (np.sqrt(v) + 1e-7), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(m0[2], 0.0)


def test_unsupported_optimizers_fail_clearly():
    model, emb = make_search_model(FIELDS, optimizer=keras.optimizers.Adafactor(1e-2))
    x, y = random_batch(FIELDS, 32)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    with pytest.raises(NotImplementedError, match="Adafactor"):
        dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(2)})
    # A LossScaleOptimizer is resized through its inner optimizer (see
    # tests/test_precision.py), so the inner optimizer's limits apply.
    lso = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(gradient_accumulation_steps=2)
    )
    with pytest.raises(NotImplementedError, match="gradient_accumulation_steps"):
        dg.resize_optimizer_state(lso, [])
