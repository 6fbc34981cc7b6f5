"""DimGrowEmbedding with one projected vector per field (for DeepFM)."""

import keras
import tensorflow as tf
from keras import ops

from dimgrow_tf.layers import shuffle_gate_utils as sg
from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding
from dimgrow_tf.layers.input_utils import embed_field
from dimgrow_tf.layers.input_utils import lookup_ids
from dimgrow_tf.layers.input_utils import split_field_inputs


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

    def call(self, inputs, training=None):
        ids = split_field_inputs(inputs, self.fields)
        active = [f for f in self._fields.values() if f.dim > 0]
        if not active:
            raise ValueError("Every field is dropped (width 0): nothing to embed.")
        if tf.inside_function():
            self._traces.add(training)
        ids = lookup_ids(ids, active, self.out_of_range_ids)
        columns, logits, projections, means, widths = [], [], [], [], []
        for f in active:
            v = self._vars.by_field[f.name]
            columns.append(embed_field(v["embeddings"], ids[f.name], f))
            logits.append(v["gate_logits"])
            projections.append(v["projection"])
            means.append(v["moving_mean"])
            widths.append(tf.shape(v["gate_logits"].value)[0])
        x = ops.cast(ops.concatenate(columns, axis=1), self.compute_dtype)
        gates = ops.cast(
            sg.gate_values(ops.concatenate(logits, axis=0), self.temperature),
            self.compute_dtype,
        )
        if training:
            mixed = sg.mix(x, sg.shuffle_columns(x, self.seed_generator), gates)
            self._update_moving_means(x, active, widths)
        else:
            mean = ops.cast(ops.concatenate(means, axis=0), self.compute_dtype)
            mixed = sg.mix(x, mean, gates)
        positions = tf.concat([tf.range(1, w + 1, dtype=tf.int32) for w in widths], axis=0)
        self.add_loss(sg.gate_regularizer(
            ops.cast(gates, "float32"), ops.cast(positions, "float32"),
            self.regularizer, self.alpha,
        ))
        parts = tf.split(mixed, tf.stack(widths), axis=1, num=len(active))
        out = [ops.matmul(part, ops.cast(kernel, self.compute_dtype))
               for part, kernel in zip(parts, projections)]
        return ops.stack(out, axis=1)

    def compute_output_shape(self, input_shape):
        batch = super().compute_output_shape(input_shape)[0]
        return (batch, sum(f.dim > 0 for f in self.fields), self.output_dim)
