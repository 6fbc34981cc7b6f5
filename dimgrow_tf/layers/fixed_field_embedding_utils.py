"""Helpers of FixedFieldEmbedding: the row lookup and the per-field projection."""

import tensorflow as tf

from dimgrow_tf.backend_compat import keras
from dimgrow_tf.backend_compat import storage
from dimgrow_tf.layers.input_utils import embed_field


class RowGatherEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` whose lookup reads only the looked-up rows;
    a multi-valent field's lists are combined (`input_utils.combine_rows`)."""

    def __init__(self, field, **kwargs):
        super().__init__(field.vocab_size, field.dim, **kwargs)
        self.field = field

    def call(self, inputs):
        out = embed_field(self.embeddings, tf.cast(inputs, tf.int32), self.field)
        return tf.cast(out, self.compute_dtype)


class FieldwiseProjection(keras.layers.Layer):
    """Projects each field's columns on its own: `(batch, fields, output_dim)`.

    Input: the concatenated columns `(batch, sum(widths))`. Field f's
    columns go through its rows of one `(sum(widths), output_dim)` kernel
    (the same kernel layout as the summed projection, so folding and
    copying are the same), plus its own bias row when `use_bias`.
    """

    def __init__(self, widths, output_dim, use_bias=False, **kwargs):
        super().__init__(**kwargs)
        self.widths = [int(w) for w in widths]
        self.output_dim = int(output_dim)
        self.use_bias = bool(use_bias)

    def build(self, input_shape=None):
        self.kernel = self.add_weight(
            shape=(sum(self.widths), self.output_dim), initializer="glorot_uniform",
            name="kernel")
        self.bias = self.add_weight(
            shape=(len(self.widths), self.output_dim), initializer="zeros",
            name="bias") if self.use_bias else None
        self.built = True

    def call(self, x):
        kernel = tf.cast(storage(self.kernel), self.compute_dtype)
        parts, start = [], 0
        for width in self.widths:
            parts.append(tf.matmul(x[:, start:start + width],
                                   kernel[start:start + width]))
            start += width
        out = tf.stack(parts, axis=1)
        if self.bias is not None:
            out = out + tf.cast(storage(self.bias), self.compute_dtype)
        return out

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.widths), self.output_dim)
