"""Resizing Keras variables in place: one backing variable, new values.

A TensorFlow resource variable may leave an axis unknown
(`tf.Variable(init, shape=[V, None])`). A traced function that reads it
keeps working when a value of another width is assigned, so the train,
test and predict functions are traced once for the whole search. Each
resizable Keras variable gets such a backing variable once
(`make_resizable`); a resize is then an assignment (`resize_variable`),
which also replaces the buffer: a shrink frees memory at once.
"""

import collections
import warnings

import tensorflow as tf

from dimgrow_tf import keras_compat
from dimgrow_tf.backend_compat import storage

VariableRemap = collections.namedtuple(
    "VariableRemap", ["variable", "axis", "keep", "grow", "rebacked"]
)
VariableRemap.__doc__ = (
    "`variable` was resized along `axis`: new index j holds old index "
    "keep[j], and `grow` fresh entries follow. `rebacked` is True when its "
    "backing tf.Variable had to be replaced (traced functions must retrace)."
)


def remap_tensor(value, axis, keep, grow, fill=None):
    """Gathers `keep` along `axis` and appends `grow` entries, in TF ops.

    Working on tensors (not NumPy copies) keeps the transient memory of a
    resize at one extra copy of the variable being resized.

    Args:
        value: tensor or variable. The old values.
        axis: int. The axis that changes size.
        keep: sequence of int. Old indices kept, in new order.
        grow: int. Entries appended after the kept ones.
        fill: tensor or None. Values of the appended entries (shape of
            `value` with `grow` along `axis`); zeros when `None`.
    """
    value = tf.convert_to_tensor(value)
    keep = tuple(keep)
    if keep == tuple(range(value.shape[axis])):
        kept = value  # pure growth: no gathered copy of the whole table
    elif keep == tuple(range(len(keep))):  # a suffix dropped: a slice
        size = [-1] * value.shape.rank
        size[axis] = len(keep)
        kept = tf.slice(value, [0] * value.shape.rank, size)
    else:
        kept = tf.gather(value, tf.constant(list(keep), tf.int64), axis=axis)
    if grow == 0:
        return kept
    shape = value.shape.as_list()
    shape[axis] = grow
    if fill is None:
        # Zeros by padding: about half the time of a concat for narrow tables.
        paddings = [[0, 0]] * value.shape.rank
        paddings[axis] = [0, grow]
        return tf.pad(kept, paddings)
    fill = tf.convert_to_tensor(fill)
    if fill.shape.as_list() != shape:
        raise ValueError(f"Fill values have shape {fill.shape}; expected {shape}.")
    return tf.concat([kept, tf.cast(fill, value.dtype)], axis=axis)


def is_resizable(variable, axis):
    """True when `variable`'s backing tf.Variable leaves `axis` unknown."""
    return storage(variable).shape[axis] is None


def make_resizable(variable, axis):
    """Backs Keras `variable` by a tf.Variable whose `axis` is unknown.

    Call it in the distribution strategy's scope the variable was made in.
    A variable that is already resizable is left alone. If the strategy
    refuses a variable with an unknown axis (warned once), the variable
    keeps its static storage and `resize_variable` re-creates it.

    Returns:
        True when the backing variable was replaced (functions traced
        before must retrace), False when it already was resizable or the
        dynamic shape was refused.
    """
    if is_resizable(variable, axis):
        return False
    old = storage(variable)
    shape = old.shape.as_list()
    shape[axis] = None
    new = _new_backing(variable, old, tf.convert_to_tensor(old), shape)
    if new is None:
        return False
    keras_compat.set_backing_variable(variable, new)
    return True


def make_static(variable):
    """Backs Keras `variable` by a tf.Variable of fully defined shape.

    Returns:
        True when the backing variable was replaced.
    """
    old = storage(variable)
    if old.shape.is_fully_defined() or old is variable:  # tf_keras: stays resizable
        return False
    value = tf.convert_to_tensor(old)
    keras_compat.set_backing_variable(
        variable, _new_backing(variable, old, value, value.shape)
    )
    return True


def set_storage(variables, resizable):
    """Resizable (`make_resizable`) or static storage for `(variable, axis)` pairs.

    Returns:
        True when some backing variable was replaced.
    """
    changed = False
    for variable, axis in variables:
        changed |= make_resizable(variable, axis) if resizable else make_static(variable)
    return changed


def resize_variable(variable, axis, keep, grow, fill=None):
    """Remaps Keras `variable` along `axis` (see `remap_tensor`), in place.

    A resizable variable keeps its backing tf.Variable, so every traced
    function that reads it stays valid. Its old buffer is released before
    the new value is built, so the transient memory is the old values (one
    copy) plus the new buffer, at most about twice the new variable. A
    variable with static storage gets a new backing variable of the new
    shape, and the caller must retrace.

    Args:
        variable: a Keras variable.
        axis, keep, grow, fill: as in `remap_tensor`.

    Returns:
        True when the backing variable was replaced.
    """
    backing = storage(variable)
    old = tf.convert_to_tensor(backing)
    resizable = is_resizable(variable, axis)
    if resizable:
        empty = old.shape.as_list()
        empty[axis] = 0
        backing.assign(tf.zeros(empty, old.dtype))
    try:
        value = remap_tensor(old, axis, keep, grow, fill)
    except Exception:
        if resizable:
            backing.assign(old)
        raise
    del old, fill
    if resizable:
        backing.assign(value)
    else:
        keras_compat.set_backing_variable(
            variable, _new_backing(variable, backing, value, value.shape)
        )
    keras_compat.set_recorded_shape(variable, value.shape)
    return not resizable


# Distribution strategy types that refused a variable with an unknown axis:
# they are not asked again, and warned about once.
_REFUSED = set()


def _new_backing(variable, old, value, shape):
    """A tf.Variable like `old` holding `value`; None if `shape` is refused."""
    shape = tf.TensorShape(shape)
    strategy = type(tf.distribute.get_strategy())
    dynamic = not shape.is_fully_defined()
    if dynamic and strategy in _REFUSED:
        return None
    try:
        with tf.init_scope():
            new = dynamic_variable(
                value,
                shape=shape,
                dtype=old.dtype,
                trainable=old.trainable,
                name=variable.name,
                aggregation=old.aggregation,
                synchronization=old.synchronization,
            )
    except (TypeError, ValueError, NotImplementedError) as err:
        if not dynamic:
            raise
        _REFUSED.add(strategy)
        warnings.warn(
            f"DimGrow: {strategy.__name__} refused a variable with an unknown "
            f"axis ({type(err).__name__}: {err}). Resizes fall back to "
            "re-creating the variables and retracing the train function after "
            "each resize, which is slower.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    distributed = tf.distribute.DistributedValues
    if isinstance(old, distributed) and not isinstance(new, distributed):
        raise RuntimeError(
            f"Variable {variable.path!r} is a {type(old).__name__} but its "
            f"replacement was created as a {type(new).__name__}: resize inside "
            "the model's distribution strategy scope."
        )
    return new


def dynamic_variable(value, **kwargs):
    """`tf.Variable(value, **kwargs)`; the one place resizable storage is made."""
    return tf.Variable(value, **kwargs)
