"""The DCN-v2 head, on keras-rs's `FeatureCross`."""

import keras

from dimgrow_tf.layers import backbone_utils as bu


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class DCNv2(keras.layers.Layer):
    """DCN-v2 head (stacked): cross layers, then an MLP, returning a probability.

    With `x0` the embedding output `(batch, output_dim)`, each cross layer
    is `keras_rs.layers.FeatureCross`: `x_{l+1} = x0 * (W_l x_l + b_l) + x_l`
    (full-rank `W_l`, or `U_l V_l` of rank `projection_dim`). The last
    cross output goes through the MLP tower of `WideDeep`'s deep part
    (`hidden_units`, each Dense -> BatchNorm -> ReLU -> Dropout) and
    `Dense(1)`; the output is its sigmoid.

    Needs keras-rs (the `rs` extra, Python >= 3.11); without it the layer
    raises an ImportError naming the extra when it is created.

    Args:
        num_cross_layers: int. Number of cross layers (>= 1). Defaults to
            `2`.
        projection_dim: int or None. Rank of each cross layer's weight;
            `None` is full rank. Defaults to `None`.
        hidden_units: tuple of int. MLP widths after the cross layers.
            Defaults to `(32, 16)`.
        dropout: float. Dropout rate of the MLP. Defaults to `0.2`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    ```python
    prob = dimgrow_tf.layers.dcn_v2.DCNv2()(embedding_output)   # (batch, 1)
    model = dimgrow_tf.build_model(result, backbone="dcn_v2")
    ```

    References:
        Wang et al., "DCN V2: Improved Deep & Cross Network and Practical
        Lessons for Web-scale Learning to Rank Systems", WWW 2021.
    """

    def __init__(self, num_cross_layers=2, projection_dim=None, hidden_units=(32, 16),
                 dropout=0.2, **kwargs):
        super().__init__(**kwargs)
        keras_rs = bu.require_keras_rs("The 'dcn_v2' backbone (DCNv2)")
        if isinstance(num_cross_layers, bool) or not isinstance(num_cross_layers, int) \
                or num_cross_layers < 1:
            raise ValueError(
                "`num_cross_layers` must be a positive integer. "
                f"Received: num_cross_layers={num_cross_layers!r}"
            )
        if projection_dim is not None and (
                isinstance(projection_dim, bool) or not isinstance(projection_dim, int)
                or projection_dim < 1):
            raise ValueError(
                "`projection_dim` must be a positive integer or None. "
                f"Received: projection_dim={projection_dim!r}"
            )
        self.num_cross_layers = num_cross_layers
        self.projection_dim = projection_dim
        self.hidden_units, self.dropout = bu.check_tower_args(hidden_units, dropout)
        self.cross = [
            keras_rs.layers.FeatureCross(projection_dim=projection_dim, name=f"cross_{i}")
            for i in range(num_cross_layers)
        ]
        self.deep = bu.mlp_tower(self.hidden_units, self.dropout, "deep")

    def build(self, input_shape):
        # FeatureCross creates its Dense sublayers in `build` but builds them
        # on the first call; one call on zeros creates every variable now,
        # before an optimizer is built on the model's variables.
        zeros = keras.ops.zeros((1, input_shape[-1]), dtype=self.compute_dtype)
        for layer in self.cross:
            layer(zeros, zeros)
        bu.build_tower(self.deep, input_shape)
        self.built = True

    def call(self, x, training=None):
        crossed = x
        for layer in self.cross:
            crossed = layer(x, crossed)
        return keras.ops.sigmoid(bu.run_tower(self.deep, crossed, training))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_cross_layers=self.num_cross_layers,
            projection_dim=self.projection_dim,
            hidden_units=list(self.hidden_units),
            dropout=self.dropout,
        )
        return config
