import numpy as np
import pytest
import keras

import dimgrow_tf as dg
from conftest import make_search_model
from conftest import random_batch

FIELDS = [dg.FieldConfig("a", 10, dim=2), dg.FieldConfig("b", 7)]
OPTIMIZERS = {
    "adam": lambda: keras.optimizers.Adam(1e-2),
    "adamw": lambda: keras.optimizers.AdamW(1e-2),
    "sgd_momentum": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    "adagrad": lambda: keras.optimizers.Adagrad(1e-2),
    "rmsprop": lambda: keras.optimizers.RMSprop(1e-2, momentum=0.5),
}


def _slots(optimizer, variable):
    index = optimizer._get_variable_index(variable)
    out = {}
    for attr, value in vars(optimizer).items():
        if attr == "_trainable_variables" or not isinstance(value, list):
            continue
        if len(value) == len(optimizer._trainable_variables) and value and isinstance(value[0], keras.Variable):
            out[attr] = value[index].numpy().copy()
    return out


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_slots_carried_exactly_and_new_variable_trained(name):
    model, emb = make_search_model(FIELDS, optimizer=OPTIMIZERS[name]())
    x, y = random_batch(FIELDS, 96)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    old_opt = model.optimizer
    old_a = emb.field_variables("a")["embeddings"]
    old_b = emb.field_variables("b")["embeddings"]
    slots_a = _slots(old_opt, old_a)
    n_opt_vars = len(old_opt.variables)
    index = old_opt._get_variable_index(old_a)
    old_slot_objects = [
        value[index] for attr, value in vars(old_opt).items()
        if isinstance(value, list) and attr != "_trainable_variables"
        and len(value) == len(old_opt._trainable_variables)
        and value and isinstance(value[0], keras.Variable)
    ]
    slots_b = _slots(old_opt, old_b)
    assert slots_a, "optimizer has per-variable slots"
    assert any(np.any(v != 0) for v in slots_a.values())

    dg.apply_resize(model, emb, {"a": dg.FieldResize(keep=(1,), grow=1)})
    opt = model.optimizer
    assert opt is old_opt, "state moves in place; callbacks keep a valid optimizer"
    assert int(opt.iterations) == 3
    assert len(opt.variables) == n_opt_vars
    live = {id(v) for v in opt.variables}
    assert not any(id(s) in live for s in old_slot_objects)
    new_a = emb.field_variables("a")["embeddings"]
    for attr, old_value in _slots(opt, new_a).items():
        np.testing.assert_array_equal(old_value[:, 0], slots_a[attr][:, 1])
        np.testing.assert_array_equal(old_value[:, 1], 0.0)
    for attr, old_value in _slots(opt, emb.field_variables("b")["embeddings"]).items():
        np.testing.assert_array_equal(old_value, slots_b[attr])

    frozen_old = old_a.numpy().copy()
    before = new_a.numpy().copy()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert not np.allclose(new_a.numpy(), before), "the new variable is trained"
    np.testing.assert_array_equal(old_a.numpy(), frozen_old)
    assert int(model.optimizer.iterations) == 6


def test_adam_step_after_resize_matches_hand_computation():
    model, emb = make_search_model(FIELDS, optimizer=keras.optimizers.Adam(1e-2))
    x, y = random_batch(FIELDS, 32)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    dg.apply_resize(model, emb, {"a": dg.FieldResize.grow_by(2)})
    opt = model.optimizer
    var = emb.field_variables("a")["projection"]
    m0, v0 = (s.numpy().copy() for s in (opt._momentums[opt._get_variable_index(var)],
                                          opt._velocities[opt._get_variable_index(var)]))
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
    lso = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
    with pytest.raises(NotImplementedError, match="LossScaleOptimizer"):
        dg.resize_optimizer_state(lso, [])
