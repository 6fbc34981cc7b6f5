"""Every access to non-public Keras attributes, each with its reason.

dimgrow_tf resizes variables in place: a Keras variable's backing
`tf.Variable` is swapped once for one with an unknown (`None`) axis, and a
resize then assigns a value of the new width to it (see
`dimgrow_tf.resize.resize_utils`). Keras has no public API for either step,
so the three accesses below are the only ones the library makes. They are
tested on Keras 3.8 (TF 2.16, the TFX environment) and Keras 3.15 (TF 2.21)
by the engine tests that `bash dev.sh test` runs in both environments.

Under tf_keras (`dimgrow_tf.backend_compat`) a field variable is a
`tf.Variable` created resizable, so the first two accesses are not needed
there, and the optimizer accesses go to `dimgrow_tf.tf_keras_compat`.
"""

from dimgrow_tf import tf_keras_compat
from dimgrow_tf.backend_compat import KERAS_3
from dimgrow_tf.backend_compat import keras


def set_backing_variable(variable, backing):
    """Makes `backing` (a `tf.Variable`) the storage of Keras `variable`.

    Reason: Keras creates a variable's `tf.Variable` itself, always with a
    fully defined shape, and keeps it in `variable._value`; there is no
    public way to give it one whose resized axis is `None`. The public
    `variable.value` reads it back (outside an autocast scope).
    """
    if not KERAS_3:
        raise TypeError("tf_keras variables are their own storage.")
    variable._value = backing


def set_recorded_shape(variable, shape):
    """Sets the shape a Keras variable reports (`variable.shape`).

    Reason: Keras records the shape at creation in `variable._shape` and
    checks every `assign` against it; after a resize it must report the new
    width so that `assign`, saving and loading see the real shape. (A
    resizable tf_keras variable reports its unknown axis as `None`: nothing
    to record.)
    """
    if not KERAS_3:
        return
    variable._shape = tuple(int(d) for d in shape)


def optimizer_slots(optimizer, variable):
    """`{list name: slot variable}` of `variable` in a built `optimizer`.

    Reason: Keras optimizers keep per-variable state (Adam's `_momentums`
    and `_velocities`, SGD's `momentums`, Adagrad's `_accumulators`,
    RMSprop's `_velocities`/`_momentums`/`_average_gradients`, the EMA's
    `_model_variables_moving_average`, ...) in lists aligned with the
    private `_trainable_variables`; no public API maps a variable to its
    slots. Every list attribute of that length holding only variables is a
    slot list. Returns `{}` for a variable the optimizer does not train.
    """
    if not KERAS_3:
        return tf_keras_compat.optimizer_slots(optimizer, variable)
    trained = getattr(optimizer, "_trainable_variables", None) or []
    index = next((i for i, v in enumerate(trained) if v is variable), None)
    if index is None:
        return {}
    slots = {}
    for attr, value in vars(optimizer).items():
        if attr == "_trainable_variables" or not isinstance(value, list):
            continue
        if len(value) != len(trained):
            continue
        items = [v for v in value if v is not None]
        if items and all(isinstance(v, keras.Variable) for v in items):
            if value[index] is not None:
                slots[attr] = value[index]
    return slots


def reindex_optimizer(optimizer):
    """Re-keys a built optimizer's variable index after storage changed.

    Reason: the TF-backend optimizer finds a variable's slots through
    `_trainable_variables_indices`, keyed by the unique id of the variable's
    backing `tf.Variable` (`_var_key`). When the storage of a trained
    variable is replaced (the first `make_resizable` after the optimizer
    was built, or the fallback that re-creates storage), the keys must be
    recomputed. (Keys recorded by `exclude_from_weight_decay(var_list=...)`
    are not: exclude by `var_names` when storage can be re-created.)
    tf_keras variables keep their storage: nothing to re-key.
    """
    if not KERAS_3:
        return
    optimizer._trainable_variables_indices = {
        optimizer._var_key(v): i for i, v in enumerate(optimizer._trainable_variables)
    }


def sibling_callbacks(callback):
    """The callbacks `fit` runs together with `callback` (empty if unknown)."""
    return [c for c in callback_list(callback) if c is not callback]


def callback_list(callback):
    """All callbacks of the `fit` running `callback`, in order (incl. itself).

    Reason: Keras gives a callback its model and params but no handle on
    the `CallbackList` that holds it, and `fit` keeps that list in a local
    variable. While a `CallbackList` method is calling `callback` (e.g.
    `on_train_begin`), the list is `self` in a caller's frame; this looks it
    up there (Keras 3.8 and 3.15 call callbacks directly from the list).
    Returns `[]` when called outside such a method.
    """
    import inspect

    frame = inspect.currentframe()
    try:
        frame = frame.f_back if frame is not None else None
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, keras.callbacks.CallbackList):
                members = list(getattr(owner, "callbacks", []))
                if any(c is callback for c in members):
                    return members
            frame = frame.f_back
        return []
    finally:
        del frame
