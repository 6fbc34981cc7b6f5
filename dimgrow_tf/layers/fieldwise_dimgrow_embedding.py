"""DimGrowEmbedding with one projected vector per field (for DeepFM)."""

import tensorflow as tf

from dimgrow_tf.backend_compat import keras
from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding
from dimgrow_tf.layers.dimgrow_embedding_utils import read_concat


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class FieldwiseDimGrowEmbedding(DimGrowEmbedding):
    """A `DimGrowEmbedding` whose output keeps the fields apart.

    Same variables, gates, shuffle, regulariser, resizing and export as
    `DimGrowEmbedding`; only the last step differs: instead of
    `x* @ P = sum_f x*_f @ P_f` (batch, output_dim) it returns every
    field's own projection `x*_f @ P_f`, stacked to
    `(batch, fields, output_dim)`. Each field's width `d_f` still changes
    freely while every field meets the head at the shared width
    `output_dim`, which is how mixed widths meet a factorisation machine
    (`DeepFM`). Fields at width 0 are left out of the stack. Widths are
    read at run time, so an in-place resize keeps the traced step valid.

    Args:
        fields, output_dim, alpha, regularizer, temperature, seed,
        count_out_of_range, **kwargs: as in `DimGrowEmbedding`.

    Example:

    ```python
    emb = dimgrow_tf.layers.fieldwise_dimgrow_embedding.FieldwiseDimGrowEmbedding(
        fields, output_dim=16)
    v = emb(inputs)                     # (batch, len(fields), 16)
    prob = dimgrow_tf.layers.deep_fm.DeepFM()(v)
    ```
    """

    def _project(self, mixed, projections, widths):
        """One projected vector per field: `(batch, fields, output_dim)`."""
        parts = tf.split(mixed, tf.stack(widths), axis=1, num=len(projections))
        out = [tf.matmul(part, tf.cast(read_concat([kernel], 0), self.compute_dtype))
               for part, kernel in zip(parts, projections)]
        return tf.stack(out, axis=1)

    def compute_output_shape(self, input_shape):
        batch = super().compute_output_shape(input_shape)[0]
        return (batch, sum(f.dim > 0 for f in self.fields), self.output_dim)
