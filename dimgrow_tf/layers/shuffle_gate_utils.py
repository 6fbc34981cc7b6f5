"""ShuffleGate maths shared by the search layer, the exporter and tests.

All functions use `keras.ops` only, so they run inside traced train steps.
"""

import keras
from keras import ops

REGULARIZERS = ("reference", "l1_sum", "l1_mean")


def gate_values(logits, temperature):
    """Gate g = sigmoid(temperature * theta), elementwise."""
    return ops.sigmoid(temperature * logits)


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
    batch = ops.shape(x)[0]
    width = ops.shape(x)[1]
    perm = keras.random.shuffle(ops.arange(batch, dtype="int32"), seed=seed)
    offsets = keras.random.shuffle(
        ops.arange(ops.maximum(batch, width), dtype="int32"), seed=seed
    )
    shifts = offsets[:width] % batch
    rows = (ops.expand_dims(ops.arange(batch, dtype="int32"), 1) + shifts) % batch
    flat = ops.take(perm, rows, axis=0) * width + ops.arange(width, dtype="int32")
    shuffled = ops.take(ops.reshape(x, (-1,)), flat, axis=0)
    return ops.stop_gradient(shuffled)


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
        return alpha * 0.1 * ops.mean(gates / positions)
    if form == "l1_sum":
        return alpha * ops.sum(gates)
    if form == "l1_mean":
        return alpha * ops.mean(gates)
    raise ValueError(
        f"`regularizer` must be one of {REGULARIZERS}. Received: {form!r}"
    )
