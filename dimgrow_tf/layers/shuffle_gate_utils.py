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
    """Permutes every column of `x` (batch, D) independently over the batch.

    Each column gets its own random permutation of the rows, so its
    marginal distribution is kept while its link to the row is broken.
    The result is wrapped in `stop_gradient`.
    """
    keys = keras.random.uniform(ops.shape(x), seed=seed)
    order = ops.argsort(keys, axis=0)
    return ops.stop_gradient(ops.take_along_axis(x, order, axis=0))


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
