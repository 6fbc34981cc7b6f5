"""ShuffleGate maths shared by the search layer, the exporter and tests.

All functions use TensorFlow ops only (and seeded draws of
`backend_compat`), so they run inside traced train steps on Keras 3 and on
tf_keras.
"""

import tensorflow as tf

from dimgrow_tf import backend_compat

REGULARIZERS = ("reference", "l1_sum", "l1_mean")


def gate_values(logits, temperature):
    """Gate g = sigmoid(temperature * theta), elementwise."""
    return tf.sigmoid(temperature * logits)


def shuffle_columns(x, seed):
    """Permutes every column of `x` (batch, D) over the batch.

    Column j reads row `perm[(i + shift_j) mod B]` at row i, with `perm` a
    uniformly random permutation of the B rows and `shift_j` distinct random
    offsets (distinct whenever D <= B). Marginally every column therefore
    gets a uniformly random permutation (its distribution is kept, its link
    to the row is broken), and within a row the columns come from distinct
    source rows. This costs one shuffle of B plus one gather, where
    independent sorts per column (`argsort` of B x D random keys) cost about
    7x more at D = 624 on CPU. The result is wrapped in `stop_gradient`.
    """
    batch = tf.shape(x)[0]
    width = tf.shape(x)[1]
    perm = backend_compat.random_shuffle(tf.range(batch, dtype=tf.int32), seed)
    offsets = backend_compat.random_shuffle(
        tf.range(tf.maximum(batch, width), dtype=tf.int32), seed
    )
    shifts = offsets[:width] % batch
    rows = (tf.expand_dims(tf.range(batch, dtype=tf.int32), 1) + shifts) % batch
    flat = tf.gather(perm, rows) * width + tf.range(width, dtype=tf.int32)
    shuffled = tf.gather(tf.reshape(x, (-1,)), flat)
    return tf.stop_gradient(shuffled)


def mix(x, shuffled, gates):
    """x* = g * x + (1 - g) * shuffled, broadcasting `gates` over rows."""
    return gates * x + (1.0 - gates) * shuffled


def gate_regularizer(gates, positions, form, alpha):
    """Sparsity penalty on the active gates.

    Args:
        gates: 1-D tensor of all active gate values, field by field.
        positions: 1-D float tensor, same length: the 1-based position k of
            each gate inside its field.
        form: str. `"reference"`: `alpha * 0.1 * mean(g / k)` (the authors'
            code; presses hardest on a field's first dimensions).
            `"l1_sum"`: `alpha * sum(g)` (the paper's formula).
            `"l1_mean"`: `alpha * mean(g)`.
        alpha: float. Strength.
    """
    if form == "reference":
        return alpha * 0.1 * tf.reduce_mean(gates / positions)
    if form == "l1_sum":
        return alpha * tf.reduce_sum(gates)
    if form == "l1_mean":
        return alpha * tf.reduce_mean(gates)
    raise ValueError(
        f"`regularizer` must be one of {REGULARIZERS}. Received: {form!r}"
    )
