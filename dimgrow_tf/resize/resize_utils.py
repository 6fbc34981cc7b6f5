"""Array and variable-tracking helpers for resizing Keras variables."""

import collections
import contextlib

import tensorflow as tf

VariableRemap = collections.namedtuple(
    "VariableRemap", ["old", "new", "axis", "keep", "grow"]
)
VariableRemap.__doc__ = (
    "Old variable `old` was replaced by `new`; along `axis`, new index j "
    "holds old index keep[j], and `grow` fresh entries follow."
)


def remap_tensor(value, axis, keep, grow, fill=None):
    """Gathers `keep` along `axis` and appends `grow` entries, in TF ops.

    Working on tensors (not NumPy copies) keeps the transient memory of a
    resize at one extra copy of the variable being replaced.

    Args:
        value: tensor or variable. The old values.
        axis: int. The axis that changes size.
        keep: sequence of int. Old indices kept, in new order.
        grow: int. Entries appended after the kept ones.
        fill: tensor or None. Values of the appended entries (shape of
            `value` with `grow` along `axis`); zeros when `None`.
    """
    value = tf.convert_to_tensor(value)
    if tuple(keep) == tuple(range(value.shape[axis])):
        kept = value  # pure growth: no gathered copy of the whole table
    else:
        kept = tf.gather(value, tf.constant(list(keep), tf.int64), axis=axis)
    if grow == 0:
        return kept
    shape = value.shape.as_list()
    shape[axis] = grow
    if fill is None:
        fill = tf.zeros(shape, value.dtype)
    elif fill.shape.as_list() != shape:
        raise ValueError(f"Fill values have shape {fill.shape}; expected {shape}.")
    return tf.concat([kept, tf.cast(fill, value.dtype)], axis=axis)


def constant_initializer(value):
    """A one-shot initializer returning the tensor `value`.

    It drops its reference after the call: Keras keeps a variable's
    initializer, and holding the value would keep a second copy of a
    resized table alive.
    """
    held = [value]

    def initializer(shape, dtype=None):
        tensor = held.pop()
        return tf.cast(tensor, dtype or tensor.dtype)

    return initializer


def replace_tracked_variable(layer, old, new):
    """Puts `new` in the place of `old` in `layer`'s tracked variable lists.

    Keras's own `Tracker.replace_tracked_value` finds `old` with `==`,
    which compares tensors and fails when shapes differ; this matches by
    identity and keeps the variable order (so `get_weights` order is
    stable across resizes).
    """
    tracker = layer._tracker
    for name, ids in tracker.stored_ids.items():
        if id(new) in ids:
            store = tracker.config[name][1]
            delete_item(store, _index_by_identity(store, new))
            ids.discard(id(new))
    for name, ids in tracker.stored_ids.items():
        if id(old) in ids:
            store = tracker.config[name][1]
            set_item(store, _index_by_identity(store, old), new)
            ids.discard(id(old))
            ids.add(id(new))
            return
    raise ValueError(
        f"Variable {old.path!r} is not tracked by layer {layer.name!r}."
    )


def set_item(items, index, value):
    """`items[index] = value`, also for TensorFlow's tracking `ListWrapper`.

    Optimizer lists are `ListWrapper`s on the TF backend. Their own
    `__setitem__` marks the list as mutated and keeps a snapshot and the
    checkpoint-dependency records of the old contents: the replaced
    variables would never be freed, and `tf.train.Checkpoint` would refuse
    to save the list. Writing to the wrapped storage and re-registering
    its current elements avoids both.
    """
    if not _is_list_wrapper(items):
        items[index] = value
        return
    items._storage[index] = value
    _refresh_list_wrapper(items)


def delete_item(items, index):
    """`del items[index]`, with the same `ListWrapper` care as `set_item`."""
    if not _is_list_wrapper(items):
        del items[index]
        return
    del items._storage[index]
    _refresh_list_wrapper(items)


def _is_list_wrapper(items):
    return hasattr(items, "_storage") and hasattr(items, "_last_wrapped_list_snapshot")


def _refresh_list_wrapper(wrapper):
    storage = wrapper._storage
    wrapper._last_wrapped_list_snapshot = list(storage)
    held = {id(v) for v in storage}
    if hasattr(wrapper, "_self_extra_variables"):
        wrapper._self_extra_variables = [
            v for v in wrapper._self_extra_variables if id(v) in held
        ]
    if hasattr(wrapper, "_self_unconditional_dependency_names"):
        wrapper._self_unconditional_checkpoint_dependencies = []
        wrapper._self_unconditional_dependency_names = {}
        for i, value in enumerate(storage):
            if value is not None:
                wrapper._track_value(value, name=wrapper._name_element(i))


def _index_by_identity(items, target):
    for i, item in enumerate(items):
        if item is target:
            return i
    raise ValueError(f"{target!r} not found.")


@contextlib.contextmanager
def unlocked(obj):
    """Unlocks `obj`'s Keras tracker for new state, restoring its lock state."""
    tracker = obj._tracker
    was_locked = tracker.locked
    tracker.unlock()
    try:
        yield
    finally:
        if was_locked:
            tracker.lock()


def release_variable(variable):
    """Frees a replaced variable's buffer now, even if references remain.

    TensorFlow and Keras keep references to replaced variables in places a
    resize cannot reach (tracking records of TF's checkpoint machinery, for
    one), and eager resource handles are reference counted, so the old
    tables would stay allocated. Assigning an empty tensor to the resource
    (`validate_shape=False`) frees the buffer at once; a stale user of the
    old variable then fails loudly instead of silently training it.
    """
    if not tf.executing_eagerly():
        return
    value = getattr(variable, "_value", None)
    if value is None:
        value = getattr(variable, "value", variable)
    parts = getattr(value, "values", None)
    if not isinstance(parts, tuple):
        parts = (value,)
    for part in parts:
        handle = getattr(part, "handle", None)
        if handle is not None:
            empty = tf.zeros([0] * len(part.shape), part.dtype)
            tf.raw_ops.AssignVariableOp(resource=handle, value=empty, validate_shape=False)
