"""Rebuilding a Keras optimizer after some of its variables were resized."""

import keras
import numpy as np

from dimgrow_tf.resize.resize_utils import remap_array

_NOT_SLOTS = ("_trainable_variables",)


def rebuild_optimizer(optimizer, variables, remaps=()):
    """Returns a new optimizer over `variables` that carries `optimizer`'s state.

    The new optimizer is `optimizer.__class__.from_config(get_config())`,
    built over `variables`. Its `iterations`, learning rate and any other
    scalar state are copied. Every per-variable slot (Adam's moments, SGD's
    momentum, Adagrad's accumulators, RMSprop's averages, EMA copies, ...)
    is carried: for an unchanged variable exactly; for a resized one the
    surviving slice exactly, fresh entries at zero, dropped entries gone.
    A variable the old optimizer did not know starts with zero slots.

    Args:
        optimizer: a built or unbuilt `keras.optimizers.Optimizer`.
        variables: list of the trainable variables the new one must train.
        remaps: iterable of `VariableRemap` from `DimGrowEmbedding.resize`.

    Raises:
        NotImplementedError: for optimizers whose slots are not shaped like
            their variables (e.g. Adafactor's factored moments) and for
            `LossScaleOptimizer`.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise NotImplementedError(
            "LossScaleOptimizer (mixed_float16) is not supported by DimGrow "
            "resizing yet; use float32 or mixed_bfloat16."
        )
    new = optimizer.__class__.from_config(optimizer.get_config())
    if not optimizer.built:
        return new
    new.build(list(variables))
    old_vars = list(optimizer._trainable_variables)
    old_index = {id(v): i for i, v in enumerate(old_vars)}
    by_new = {id(r.new): r for r in remaps}
    old_slot_lists = _slot_lists(optimizer, len(old_vars))
    new_slot_lists = _slot_lists(new, len(variables))
    slot_ids = set()
    for attr, old_slots in old_slot_lists.items():
        new_slots = new_slot_lists.get(attr)
        if new_slots is None:
            continue
        slot_ids.update(id(s) for s in old_slots + new_slots if s is not None)
        for j, var in enumerate(variables):
            remap = by_new.get(id(var))
            source = remap.old if remap is not None else var
            i = old_index.get(id(source))
            if i is None or old_slots[i] is None or new_slots[j] is None:
                continue
            value = keras.ops.convert_to_numpy(old_slots[i])
            if tuple(value.shape) != tuple(source.shape):
                raise NotImplementedError(
                    f"{type(optimizer).__name__} keeps slot {attr!r} in a shape "
                    f"{tuple(value.shape)} unlike its variable "
                    f"{tuple(source.shape)}; it cannot be carried across a "
                    "resize. Use Adam, AdamW, SGD, Adagrad, RMSprop or similar."
                )
            if remap is not None:
                value = remap_array(value, remap.axis, remap.keep, remap.grow)
            new_slots[j].assign(value)
    _copy_scalar_state(optimizer, new, slot_ids)
    return new


def _slot_lists(optimizer, n):
    lists = {}
    for attr, value in vars(optimizer).items():
        if attr in _NOT_SLOTS or not isinstance(value, (list, tuple)):
            continue
        if len(value) != n or n == 0:
            continue
        items = [v for v in value if v is not None]
        if items and all(isinstance(v, keras.Variable) for v in items):
            lists[attr] = list(value)
    return lists


def _copy_scalar_state(old, new, slot_ids):
    new_by_path = {}
    for v in new.variables:
        if id(v) not in slot_ids:
            new_by_path.setdefault(v.path, v)
    for v in old.variables:
        if id(v) in slot_ids:
            continue
        target = new_by_path.get(v.path)
        if target is None:
            continue
        value = keras.ops.convert_to_numpy(v)
        if tuple(np.shape(value)) == tuple(target.shape):
            target.assign(value)
