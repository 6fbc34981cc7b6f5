"""Carrying a Keras optimizer's per-variable state across resizes, in place."""

import functools

import tensorflow as tf

from dimgrow_tf import backend_compat
from dimgrow_tf.backend_compat import KERAS_3
from dimgrow_tf.backend_compat import keras
from dimgrow_tf.backend_compat import optimizer_built
from dimgrow_tf.backend_compat import storage
from dimgrow_tf.keras_compat import optimizer_slots
from dimgrow_tf.keras_compat import reindex_optimizer
from dimgrow_tf.optimizers.lazy_adam import LazyAdam
from dimgrow_tf.resize.resize_utils import resize_variable
from dimgrow_tf.resize.resize_utils import set_storage


def resize_optimizer_state(optimizer, remaps):
    """Resizes the slots of resized variables inside a built optimizer.

    For every `VariableRemap(variable, axis, keep, grow, ...)` each of the
    variable's slots (Adam's moments, SGD's momentum, Adagrad's
    accumulators, RMSprop's averages, EMA copies, ...) gets the same
    remap: surviving entries are carried exactly, the `grow` fresh entries
    start at zero (an EMA copy of the weights starts at the fresh weights),
    dropped entries are gone. The slots are resized in place
    (see `set_optimizer_storage`), so the optimizer object, its
    `iterations`, learning rate and the slots of other variables are
    untouched, and traced train functions stay valid. An unbuilt optimizer,
    or one that does not train `variable` (e.g. gates excluded from it), is
    left as is.

    Args:
        optimizer: a `keras.optimizers.Optimizer`.
        remaps: iterable of `VariableRemap` from `DimGrowEmbedding.resize`.

    Returns:
        True when some slot's backing variable had to be replaced, so
        functions traced before must retrace.

    Raises:
        NotImplementedError: for optimizers whose slots are not shaped like
            their variables (e.g. Adafactor's factored moments), with
            and with gradient accumulation. A `LossScaleOptimizer`
            (mixed_float16) is resized through its `inner_optimizer`.
    """
    check_resizable_optimizer(optimizer)
    if not optimizer_built(optimizer):
        return False
    inner = _inner_optimizer(optimizer)
    if inner is not optimizer:
        if optimizer_built(inner):
            reindex_optimizer(inner)  # its keys may predate a storage swap
        return resize_optimizer_state(inner, remaps)
    rebacked = False
    for remap in remaps:
        for attr, slot in _slots(optimizer, remap.variable, remap.axis).items():
            fill = _grown_part(remap) if attr == _EMA_SLOTS and remap.grow else None
            rebacked |= resize_variable(slot, remap.axis, remap.keep, remap.grow, fill)
        slice_steps = getattr(optimizer, "slice_steps", None)
        if slice_steps is not None:
            rebacked |= slice_steps.remap(remap, optimizer.iterations)
    return rebacked


# Keras's EMA of the model variables (`use_ema=True`): its fresh entries start
# at the variables' fresh values, as Keras starts the average at step 0.
_EMA_SLOTS = "_model_variables_moving_average"


def _grown_part(remap):
    """The fresh entries of the (already resized) variable of `remap`."""
    value = tf.convert_to_tensor(storage(remap.variable))
    begin = [0] * value.shape.rank
    begin[remap.axis] = len(remap.keep)
    size = [-1] * value.shape.rank
    size[remap.axis] = remap.grow
    return tf.slice(value, begin, size)


def set_optimizer_storage(optimizer, variables, resizable=True):
    """Gives the slots of `variables` resizable (or static) storage.

    Args:
        optimizer: a built `keras.optimizers.Optimizer`.
        variables: iterable of `(variable, axis)`: the resizable variables
            and the axis along which they change.
        resizable: bool. Resizable storage (see `make_resizable`) or static.
            Defaults to `True`.

    Returns:
        True when some slot's backing variable was replaced.
    """
    check_resizable_optimizer(optimizer)
    inner = _inner_optimizer(optimizer)
    if inner is not optimizer:
        built = optimizer_built(inner)
        changed = set_optimizer_storage(inner, variables, resizable) if built else False
        if built:
            reindex_optimizer(inner)  # the caller re-keys only the wrapper
        return changed
    slots = [
        (variable, axis, _slots(optimizer, variable, axis))
        for variable, axis in variables
    ]
    changed = set_storage(
        [(slot, axis) for _, axis, found in slots for slot in found.values()], resizable
    )
    slice_steps = getattr(optimizer, "slice_steps", None)
    if slice_steps is not None:
        for variable, axis, found in slots:
            if found:  # variables the optimizer trains
                changed |= slice_steps.track(variable, axis, resizable)
    return changed


# Optimizers whose update of a row-sparse gradient uses only ops that take
# an unknown width on every Keras we support.
_DYNAMIC_SAFE = (
    keras.optimizers.Adam,
    keras.optimizers.AdamW,
    keras.optimizers.SGD,
    LazyAdam,
)


def dynamic_widths_supported(optimizer):
    """Whether `optimizer` can train variables of unknown width in a trace.

    Some Kerases (3.8) build the union of two row-sparse gradients
    (Adagrad's and RMSprop's updates do this) from the static width, which
    fails when the width is unknown. On such a Keras only Adam, AdamW,
    LazyAdam and SGD resize in place; the others fall back to re-created
    storage and a retrace per resize.
    """
    if not KERAS_3:
        return True  # tf_keras updates row-sparse gradients with scatter ops
    optimizer = _inner_optimizer(optimizer)
    return type(optimizer) in _DYNAMIC_SAFE or _sparse_union_takes_unknown_widths()


def _inner_optimizer(optimizer):
    """The optimizer holding the slots: a `LossScaleOptimizer`'s inner one.

    A `LossScaleOptimizer` (mixed_float16) keeps no per-variable state of
    its own (its loss scale and step counter are scalars, untouched by a
    resize); its public `inner_optimizer` holds the slots.
    """
    while isinstance(optimizer, backend_compat.loss_scale_optimizer_types()):
        optimizer = optimizer.inner_optimizer
    return optimizer


@functools.lru_cache(maxsize=None)
def _sparse_union_takes_unknown_widths():
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def add_slices(values):
        rows = tf.shape(values, out_type=tf.int64)
        shape = tf.stack([rows[0] + 1, rows[1]])
        a = tf.IndexedSlices(values, tf.range(rows[0]), shape)
        b = tf.IndexedSlices(values, tf.range(rows[0]) + 1, shape)
        return keras.ops.convert_to_tensor(keras.ops.add(a, b))

    try:
        add_slices.get_concrete_function()
    except ValueError:
        return False
    return True


def _slots(optimizer, variable, axis):
    """`optimizer_slots`, checked to be shaped like `variable` but on `axis`."""
    slots = optimizer_slots(optimizer, variable)
    for attr, slot in slots.items():
        other = [d for i, d in enumerate(slot.shape) if i != axis]
        if len(slot.shape) != len(variable.shape) or other != [
            d for i, d in enumerate(variable.shape) if i != axis
        ]:
            raise NotImplementedError(
                f"{type(optimizer).__name__} keeps slot {attr!r} in a shape "
                f"{tuple(slot.shape)} unlike its variable "
                f"{tuple(variable.shape)}; it cannot be carried across a "
                "resize. Use Adam, AdamW, LazyAdam, SGD, Adagrad or RMSprop."
            )
    return slots


def check_resizable_optimizer(optimizer):
    """Raises NotImplementedError for optimizers DimGrow cannot resize.

    A `LossScaleOptimizer` is checked through its inner optimizer, and a
    tf_keras legacy optimizer is refused.
    """
    if not KERAS_3:
        from dimgrow_tf.tf_keras_compat import check_optimizer

        check_optimizer(_inner_optimizer(optimizer))
    if getattr(optimizer, "gradient_accumulation_steps", None) or getattr(
        _inner_optimizer(optimizer), "gradient_accumulation_steps", None
    ):
        raise NotImplementedError(
            "Gradient accumulation (`gradient_accumulation_steps`) is not "
            "supported with DimGrow resizing: Keras zeroes the accumulators "
            "with shapes fixed at trace time."
        )
