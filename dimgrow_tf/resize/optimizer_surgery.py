"""Carrying a Keras optimizer's state across variable resizes, in place."""

import keras

from dimgrow_tf.resize.resize_utils import constant_initializer
from dimgrow_tf.resize.resize_utils import release_variable
from dimgrow_tf.resize.resize_utils import remap_tensor
from dimgrow_tf.resize.resize_utils import replace_tracked_variable
from dimgrow_tf.resize.resize_utils import set_item
from dimgrow_tf.resize.resize_utils import unlocked

_NOT_SLOTS = ("_trainable_variables",)


def resize_optimizer_state(optimizer, remaps):
    """Swaps resized variables and their slots inside a built optimizer.

    For every `VariableRemap(old, new, axis, keep, grow)` the optimizer
    afterwards trains `new` in `old`'s place, and each per-variable slot
    (Adam's moments, SGD's momentum, Adagrad's accumulators, RMSprop's
    averages, EMA copies, ...) is replaced by a slot of the new shape that
    holds the old slot's surviving entries exactly and zeros for the `grow`
    fresh entries; dropped entries are gone. Everything else — the object
    itself, `iterations`, the learning rate or its schedule, the slots of
    unchanged variables — is untouched, so only the resized variables'
    slots are reallocated (one at a time) and callbacks holding
    `model.optimizer` stay valid. An unbuilt optimizer, or one that does
    not train `old` (e.g. gates excluded from it), is left as is.

    Args:
        optimizer: a `keras.optimizers.Optimizer`.
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
    if not optimizer.built:
        return
    slot_lists = _slot_lists(optimizer)
    for remap in remaps:
        key = optimizer._var_key(remap.old)
        index = optimizer._trainable_variables_indices.get(key)
        if index is None:
            continue
        for attr, slots in slot_lists.items():
            old_slot = slots[index]
            if old_slot is None:
                continue
            if tuple(old_slot.shape) != tuple(remap.old.shape):
                raise NotImplementedError(
                    f"{type(optimizer).__name__} keeps slot {attr!r} in a shape "
                    f"{tuple(old_slot.shape)} unlike its variable "
                    f"{tuple(remap.old.shape)}; it cannot be carried across a "
                    "resize. Use Adam, AdamW, LazyAdam, SGD, Adagrad or RMSprop."
                )
            set_item(slots, index, _resized_slot(optimizer, old_slot, remap))
            release_variable(old_slot)
        set_item(optimizer._trainable_variables, index, remap.new)
        del optimizer._trainable_variables_indices[key]
        optimizer._trainable_variables_indices[optimizer._var_key(remap.new)] = index


def _resized_slot(optimizer, old_slot, remap):
    value = remap_tensor(old_slot.value, remap.axis, remap.keep, remap.grow)
    prefix = remap.old.path.replace("/", "_") + "_"
    name = old_slot.name
    name = name[len(prefix):] if name.startswith(prefix) else name
    with unlocked(optimizer):
        new_slot = optimizer.add_variable_from_reference(
            remap.new, name=name, initializer=constant_initializer(value)
        )
    replace_tracked_variable(optimizer, old_slot, new_slot)
    return new_slot


def _slot_lists(optimizer):
    n = len(optimizer._trainable_variables)
    lists = {}
    for attr, value in vars(optimizer).items():
        if attr in _NOT_SLOTS or not isinstance(value, list) or n == 0:
            continue
        if len(value) != n:
            continue
        items = [v for v in value if v is not None]
        if items and all(isinstance(v, keras.Variable) for v in items):
            lists[attr] = value
    return lists
