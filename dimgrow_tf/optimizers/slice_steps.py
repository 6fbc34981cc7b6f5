"""Per-slice step counts: the bias correction of slices born mid-training."""

import tensorflow as tf

from dimgrow_tf.resize.resize_utils import remap_tensor


class SliceSteps:
    """The optimizer step at which each slice of a resizable variable was born.

    Adam corrects the bias of its zero-started moments with the global step
    `t`. A slice (a table column, a projection row, a gate) added at step
    `t0` starts with zero moments too, so its correction must use its own
    age `t - t0`: with the global `t` its first updates are about 3-6
    times the learning rate. For every tracked variable this keeps one
    int64 entry per slice along the variable's width axis: 0 for the
    slices present when training started, the optimizer's `iterations` at
    the resize for grown ones; a resize remaps it like the variable.

    It is a plain holder (not tracked by Keras or `tf.train.Checkpoint`):
    `DimGrowCallback` saves `get_state()` with the layer's weights.
    """

    def __init__(self):
        self.by_path = {}

    def track(self, variable, axis, resizable):
        """Starts (or re-stores) the record of `variable`'s slices.

        Returns:
            True when a backing tf.Variable was (re-)created.
        """
        entry = self.by_path.get(variable.path)
        if entry is not None and _is_dynamic(entry[0]) == bool(resizable):
            return False
        if entry is None:
            width = int(tf.shape(variable.value)[axis])
            value = tf.zeros([width], tf.int64)
        else:
            value = tf.convert_to_tensor(entry[0])
        self.by_path[variable.path] = (_births(value, resizable), axis)
        return True

    def lookup(self, variable):
        """`(births variable, axis)` of `variable`, or None if untracked."""
        return self.by_path.get(variable.path)

    def remap(self, remap, step):
        """Applies a `VariableRemap`; grown slices are born at `step`.

        Returns:
            True when the backing tf.Variable had to be re-created.
        """
        entry = self.by_path.get(remap.variable.path)
        if entry is None:
            return False
        births, axis = entry
        fill = tf.fill([remap.grow], tf.cast(step, tf.int64)) if remap.grow else None
        value = remap_tensor(births, 0, remap.keep, remap.grow, fill)
        if _is_dynamic(births):
            births.assign(value)
            return False
        self.by_path[remap.variable.path] = (_births(value, False), axis)
        return True

    def get_state(self):
        """`{variable path: [birth step per slice]}`, JSON-able."""
        return {
            path: [int(x) for x in births.numpy()]
            for path, (births, _) in self.by_path.items()
        }

    def set_state(self, state):
        """Restores `get_state()` output for the tracked variables."""
        for path, values in state.items():
            entry = self.by_path.get(path)
            if entry is None:
                continue
            births, axis = entry
            value = tf.constant(values, tf.int64, shape=[len(values)])
            if _is_dynamic(births) or births.shape[0] == len(values):
                births.assign(value)
            else:
                self.by_path[path] = (_births(value, False), axis)


def _is_dynamic(births):
    return births.shape[0] is None


def _births(value, resizable):
    with tf.init_scope():
        return tf.Variable(
            value,
            shape=[None] if resizable else value.shape,
            dtype=tf.int64,
            trainable=False,
            name="slice_births",
        )
