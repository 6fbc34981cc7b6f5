"""Adam with row-sparse (lazy) updates for embedding tables."""

import keras
import tensorflow as tf

from dimgrow_tf.optimizers.slice_steps import SliceSteps


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates only the rows a batch touches for sparse gradients.

    A gradient that arrives as `tf.IndexedSlices` (an embedding lookup's
    gradient) takes the lazy path: duplicate ids are summed, then for the
    touched rows `r` only

        m[r] = b1 * m[r] + (1 - b1) * g[r]
        v[r] = b2 * v[r] + (1 - b2) * g[r]^2
        w[r] -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m[r] / (sqrt(v[r]) + eps)

    with `t` the global step (for a DimGrow variable, the age of each slice:
    see below). Rows a batch does not touch are not read or
    written: their weights, `m` and `v` stay bit-identical (dense Adam would
    decay their moments and keep moving their weights with the decayed
    momentum). A step therefore costs what the batch touches, not what the
    vocabulary holds. Dense gradients (dense layers, gates, projections)
    get exactly Keras's `Adam` update. Slots have the variables' shapes, so
    `resize_optimizer_state` carries them across resizes like Adam's.

    Per-slice bias correction: for the variables a DimGrow resize tracks
    (`slice_steps`, set up by `prepare_resizing`), `t` is counted per
    slice along the width axis from the step the slice was born, so a
    column grown at step 5000 gets the update of a fresh Adam (about `lr`),
    not the 3-6x larger one that zero moments with the global step's
    correction give. Slices present from the start have age `t`: the update
    is Keras's Adam exactly.

    Same arguments as `keras.optimizers.Adam`; `amsgrad=True` and
    `weight_decay` (which Keras applies densely) are rejected.

    Example:

    ```python
    model.compile(optimizer=dimgrow_tf.LazyAdam(1e-3), loss="binary_crossentropy")
    ```
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("LazyAdam does not support `amsgrad=True`.")
        if self.weight_decay:
            raise ValueError(
                "LazyAdam does not support `weight_decay` (Keras applies it to "
                f"every row densely). Received: weight_decay={self.weight_decay}"
            )
        self.slice_steps = SliceSteps()

    def _slice_entry(self, variable):
        # `update_step` receives the backing tf.Variable: find the Keras one.
        if not self.slice_steps.by_path:
            return None
        keras_variable = self._trainable_variables[self._get_variable_index(variable)]
        return self.slice_steps.lookup(keras_variable)

    def _alpha(self, learning_rate, variable, dtype):
        """Adam's step size: a scalar, or per slice for tracked variables."""
        step = tf.cast(self.iterations + 1, dtype)
        entry = self._slice_entry(variable)
        if entry is not None:
            births, axis = entry
            step = tf.maximum(step - tf.cast(births.read_value(), dtype), 1.0)
            shape = [1] * len(variable.shape)
            shape[axis] = -1
            step = tf.reshape(step, shape)
        b1 = tf.cast(self.beta_1, dtype)
        b2 = tf.cast(self.beta_2, dtype)
        lr = tf.cast(learning_rate, dtype)
        return lr * tf.sqrt(1.0 - tf.pow(b2, step)) / (1.0 - tf.pow(b1, step))

    def update_step(self, gradient, variable, learning_rate):
        sparse = isinstance(gradient, tf.IndexedSlices)
        if not sparse and self._slice_entry(variable) is None:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        dtype = variable.dtype
        b1 = tf.cast(self.beta_1, dtype)
        b2 = tf.cast(self.beta_2, dtype)
        alpha = self._alpha(learning_rate, variable, dtype)
        if not sparse:
            gradient = tf.cast(gradient, dtype)
            self.assign_add(m, (gradient - m) * (1.0 - b1))
            self.assign_add(v, (tf.square(gradient) - v) * (1.0 - b2))
            self.assign_sub(
                variable, m * alpha / (tf.sqrt(v) + tf.cast(self.epsilon, dtype))
            )
            return
        rows, position = tf.unique(gradient.indices)
        grad = tf.math.unsorted_segment_sum(
            tf.cast(gradient.values, dtype), position, tf.shape(rows)[0]
        )
        m_rows = b1 * tf.gather(m.value, rows) + (1.0 - b1) * grad
        v_rows = b2 * tf.gather(v.value, rows) + (1.0 - b2) * tf.square(grad)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        delta = alpha * m_rows / (tf.sqrt(v_rows) + tf.cast(self.epsilon, dtype))
        self.assign_sub(variable, tf.IndexedSlices(delta, rows))
