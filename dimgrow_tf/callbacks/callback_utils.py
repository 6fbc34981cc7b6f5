"""Checks `DimGrowCallback` runs on the model and the callbacks beside it."""

import warnings

import numpy as np

from dimgrow_tf import backend_compat
from dimgrow_tf.backend_compat import keras
from dimgrow_tf.keras_compat import callback_list
from dimgrow_tf.keras_compat import optimizer_slots
from dimgrow_tf.keras_compat import sibling_callbacks
from dimgrow_tf.layers.dimgrow_embedding_utils import KINDS


def check_darts_supported():
    """Raises NotImplementedError for DARTS gate updates under tf_keras.

    DARTS steps the gates with their own optimizer and keeps them out of
    the model's by marking them non-trainable; a tf_keras variable is a
    `tf.Variable`, whose `trainable` is fixed when it is created.
    """
    if not backend_compat.KERAS_3:
        raise NotImplementedError(
            "DimGrowCallback: DARTS gate updates (`gate_data`, "
            "SearchConfig(gate_updates='validation')) need Keras 3: under "
            "tf_keras the gate logits are tf.Variables whose `trainable` flag "
            "cannot change, so they cannot be moved out of the model's "
            "optimizer. Pass no `gate_data` (gates train on the training "
            "batches, gate_updates='train')."
        )


def disable_xla(model):
    """Turns XLA off for the search model; True if it was on.

    Under tf_keras the optimizer compiles its update with XLA on a GPU
    (`optimizer.jit_compile`); that is switched off too.
    """
    optimizer = getattr(model, "optimizer", None)
    if not backend_compat.KERAS_3 and getattr(optimizer, "jit_compile", False):
        optimizer.jit_compile = False
    if not getattr(model, "jit_compile", False):
        return False
    warnings.warn(
        "DimGrowCallback: XLA (`jit_compile`) is switched off for the search "
        "model: resizing in place needs dynamic widths, which XLA cannot "
        "compile. The retrained fixed-width model may use XLA.",
        stacklevel=3,
    )
    model.jit_compile = False
    return True


def refuse_weight_restoring_callbacks(callback):
    """Raises if `EarlyStopping(restore_best_weights=True)` runs beside it."""
    for other in sibling_callbacks(callback):
        if isinstance(other, keras.callbacks.EarlyStopping) and getattr(
            other, "restore_best_weights", False
        ):
            raise ValueError(
                "DimGrowCallback cannot run with EarlyStopping("
                "restore_best_weights=True): the weights it stores have the "
                "widths of an earlier epoch, and the search changes them. Use "
                "EarlyStopping(patience=...) without restore_best_weights; "
                "DimGrowCallback.result() already reads the best epoch's gates "
                "(retrain at the searched dims afterwards)."
            )


def hold_early_stopping(callback, epoch):
    """Keeps every `EarlyStopping` beside `callback` from ending the search.

    Called at the end of an epoch whose widths have not settled: each
    EarlyStopping's patience counter (its public `wait`) is 0 once the
    epoch's callbacks ran, and a stop it made at this very epoch (when it
    runs before `callback`) is undone. Stops by other callbacks are left
    alone.
    """
    members = callback_list(callback)
    position = next((i for i, c in enumerate(members) if c is callback), 0)
    for index, other in enumerate(members):
        if not isinstance(other, keras.callbacks.EarlyStopping):
            continue
        if index > position:
            other.wait = -1  # it adds this epoch after us
            continue
        other.wait = 0
        if getattr(other, "stopped_epoch", None) == epoch and epoch > 0:
            other.stopped_epoch = 0
            callback.model.stop_training = False


def slice_steps_of(optimizer):
    """The `SliceSteps` of `optimizer` (through a LossScaleOptimizer), or None."""
    return getattr(slots_holder(optimizer), "slice_steps", None)


def column_bytes(layer, optimizers):
    """`{field: bytes one more column costs}`: its table column, projection
    row, gate and mean, and the optimizer slots of the trained ones."""
    result = {}
    for f in layer.fields:
        variables = layer.field_variables(f.name)
        total = 0
        for kind, variable in variables.items():
            axis = KINDS[kind][0]
            shape = backend_compat.current_shape(variable)
            per_column = int(np.prod([d for i, d in enumerate(shape) if i != axis]))
            itemsize = backend_compat.itemsize(variable.dtype)
            copies = 1 + sum(
                len(optimizer_slots(slots_holder(o), variable))
                for o in optimizers
                if o is not None
            )
            total += per_column * itemsize * copies
        result[f.name] = total
    return result


def slots_holder(optimizer):
    """`optimizer`, or the inner optimizer of a LossScaleOptimizer."""
    while isinstance(optimizer, backend_compat.loss_scale_optimizer_types()):
        optimizer = optimizer.inner_optimizer
    return optimizer


def warn_global_bias_correction(optimizer):
    """Warns once when an Adam-type optimizer lacks per-slice step counts."""
    holder = slots_holder(optimizer)
    if holder is None or slice_steps_of(holder) is not None:
        return
    if hasattr(holder, "beta_1") and hasattr(holder, "beta_2"):
        warnings.warn(
            f"DimGrowCallback: {type(holder).__name__} corrects the bias of a "
            "grown column's zero moments with the global step, so its first "
            "updates are 3-6x the learning rate. "
            + ("dimgrow_tf.LazyAdam counts steps per slice (the default of "
               "build_search_model)." if backend_compat.KERAS_3 else
               "(dimgrow_tf.LazyAdam, which counts steps per slice, needs "
               "Keras 3.)"),
            RuntimeWarning,
            stacklevel=3,
        )


def optimizer_values(optimizer):
    """Every variable of a built `optimizer` as nested lists (small ones:
    the DARTS gate optimizer's step, learning rate and gate moments)."""
    if optimizer is None or not optimizer.built:
        return None
    return [np.asarray(backend_compat.to_numpy(v)).tolist() for v in optimizer.variables]


def load_optimizer_values(optimizer, values):
    """Assigns `optimizer_values` output back; raises on a mismatch."""
    variables = optimizer.variables if optimizer.built else []
    if len(variables) != len(values):
        raise ValueError(
            f"Saved DARTS gate optimizer has {len(values)} variables; this one has "
            f"{len(variables)}."
        )
    for variable, value in zip(variables, values):
        value = np.asarray(value, dtype=keras.backend.standardize_dtype(variable.dtype))
        variable.assign(value)


def optimizer_state(model, extra_optimizers):
    """The optimizer state a search saves beside its weights, JSON-able.

    `slice_steps`: the birth steps of every slice, per optimizer role
    (`"model"`, `"gates"`); `gate_optimizer`: every variable of the DARTS
    gate optimizer (Keras saves only the model's optimizer).
    """
    gates = extra_optimizers[0] if extra_optimizers else None
    roles = {"model": getattr(model, "optimizer", None), "gates": gates}
    steps = {role: slice_steps_of(o) for role, o in roles.items()}
    return {
        "slice_steps": {r: s.get_state() for r, s in steps.items() if s is not None},
        "gate_optimizer": optimizer_values(gates),
    }


def load_optimizer_state(model, extra_optimizers, state):
    """Restores `optimizer_state` output; returns what could not be restored
    yet (optimizers not built), or None."""
    gates = extra_optimizers[0] if extra_optimizers else None
    pending = {}
    if state.get("gate_optimizer") is not None:
        if gates is not None and gates.built:
            load_optimizer_values(gates, state["gate_optimizer"])
        else:
            pending["gate_optimizer"] = state["gate_optimizer"]
    roles = {"model": getattr(model, "optimizer", None), "gates": gates}
    for role, saved in (state.get("slice_steps") or {}).items():
        steps = slice_steps_of(roles.get(role))
        if steps is not None and steps.by_path:
            steps.set_state(saved)
        else:
            pending.setdefault("slice_steps", {})[role] = saved
    return pending or None
