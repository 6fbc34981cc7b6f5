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
            del store[_index_by_identity(store, new)]
            ids.discard(id(new))
    for name, ids in tracker.stored_ids.items():
        if id(old) in ids:
            store = tracker.config[name][1]
            store[_index_by_identity(store, old)] = new
            ids.discard(id(old))
            ids.add(id(new))
            return
    raise ValueError(
        f"Variable {old.path!r} is not tracked by layer {layer.name!r}."
    )


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
