"""The reference Wide&Deep head."""

import keras


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class WideDeep(keras.layers.Layer):
    """Wide&Deep head of the DimGrow reference, returning a probability.

    `sigmoid(wide(x) + deep(x))` where `wide = Dense(1)` and `deep` is an
    MLP (`hidden_units`, each Dense -> BatchNorm -> ReLU -> Dropout) ending
    in `Dense(1)`. With the reference's 64-wide input this is
    64 -> 32 -> 16 -> 1.

    Args:
        hidden_units: tuple of int. Deep layer widths. Defaults to
            `(32, 16)`.
        dropout: float. Dropout rate after each hidden layer. Defaults to
            `0.2`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    ```python
    prob = dimgrow_tf.WideDeep()(embedding_output)   # (batch, 1)
    ```
    """

    def __init__(self, hidden_units=(32, 16), dropout=0.2, **kwargs):
        super().__init__(**kwargs)
        hidden_units = tuple(int(u) for u in hidden_units)
        if any(u < 1 for u in hidden_units):
            raise ValueError(
                f"`hidden_units` must be positive. Received: {hidden_units}"
            )
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: {dropout}")
        self.hidden_units = hidden_units
        self.dropout = float(dropout)
        self.wide = keras.layers.Dense(1, name="wide")
        self.deep = []
        for i, units in enumerate(hidden_units):
            self.deep += [
                keras.layers.Dense(units, name=f"deep_{i}"),
                keras.layers.BatchNormalization(name=f"deep_bn_{i}"),
                keras.layers.ReLU(name=f"deep_relu_{i}"),
                keras.layers.Dropout(self.dropout, name=f"deep_dropout_{i}"),
            ]
        self.deep.append(keras.layers.Dense(1, name="deep_out"))

    def build(self, input_shape):
        self.wide.build(input_shape)
        shape = input_shape
        for layer in self.deep:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, x, training=None):
        deep = x
        for layer in self.deep:
            deep = layer(deep, training=training)
        return keras.ops.sigmoid(self.wide(x) + deep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=list(self.hidden_units), dropout=self.dropout)
        return config
