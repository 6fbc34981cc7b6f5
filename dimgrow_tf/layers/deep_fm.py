"""The DeepFM head over per-field projections to a shared width."""

import keras
from keras import ops

from dimgrow_tf.layers import backbone_utils as bu


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class DeepFM(keras.layers.Layer):
    """DeepFM head over one projected vector per field, returning a probability.

    Fields of different widths meet the factorisation machine through their
    projections: field f's embedding (width `d_f`) is projected to the
    shared width `k` (`v_f = x_f P_f`, the embedding layer's per-field
    projection block, read with `output_mode="fields"`). With `v` the input
    `(batch, F, k)` and `s = sum_f v_f`:

    - FM: `0.5 * sum_k(s_k**2 - sum_f v_{f,k}**2) = sum_{f<g} <v_f, v_g>`;
    - linear: `Dense(1)` of the concatenated `v` (the first-order term);
    - deep: the MLP tower of `WideDeep`'s deep part on the concatenated `v`;

    and the output is `sigmoid(linear + FM + deep)`. The builders give this
    head per-field vectors (`embedding_output = "fields"`); it needs no
    optional package.

    Args:
        hidden_units: tuple of int. Widths of the deep tower. Defaults to
            `(32, 16)`.
        dropout: float. Dropout rate of the deep tower. Defaults to `0.2`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    ```python
    v = dimgrow_tf.FixedFieldEmbedding(fields, output_dim=16,
                                       output_mode="fields")(inputs)
    prob = dimgrow_tf.layers.deep_fm.DeepFM()(v)        # (batch, 1)
    model = dimgrow_tf.build_model(result, backbone="deepfm")
    ```

    References:
        Guo et al., "DeepFM: A Factorization-Machine based Neural Network
        for CTR Prediction", IJCAI 2017.
    """

    embedding_output = bu.FIELDS

    def __init__(self, hidden_units=(32, 16), dropout=0.2, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units, self.dropout = bu.check_tower_args(hidden_units, dropout)
        self.linear = keras.layers.Dense(1, name="linear")
        self.deep = bu.mlp_tower(self.hidden_units, self.dropout, "deep")

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                "DeepFM takes one projected vector per field, shape (batch, "
                f"fields, width) with known fields and width. Received: {input_shape}. "
                "Build the embedding with output_mode='fields'."
            )
        flat = (input_shape[0], input_shape[1] * input_shape[2])
        self.linear.build(flat)
        bu.build_tower(self.deep, flat)
        self.built = True

    def call(self, v, training=None):
        flat = ops.reshape(v, (-1, v.shape[1] * v.shape[2]))
        total = ops.sum(v, axis=1)
        fm = 0.5 * ops.sum(ops.square(total) - ops.sum(ops.square(v), axis=1),
                           axis=-1, keepdims=True)
        logit = self.linear(flat) + fm + bu.run_tower(self.deep, flat, training)
        return ops.sigmoid(logit)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=list(self.hidden_units), dropout=self.dropout)
        return config
