"""Helpers of the backbone heads: optional imports, the MLP tower, checks."""

import sys

import keras

# Which embedding output a head reads: the projected sum `(batch, output_dim)`
# or one projected vector per field `(batch, fields, output_dim)`.
SUM, FIELDS = "sum", "fields"
OUTPUT_MODES = (SUM, FIELDS)


def require_keras_rs(what):
    """Imports `keras_rs`, or raises an ImportError naming the `rs` extra."""
    try:
        import keras_rs
    except ImportError as err:
        note = ""
        if sys.version_info < (3, 11):
            note = (f" keras-rs needs Python >= 3.11; this is Python "
                    f"{sys.version_info[0]}.{sys.version_info[1]}, where the "
                    "backbones 'wide_deep', 'mlp' and 'deepfm' are available.")
        raise ImportError(
            f"{what} needs keras-rs: `pip install \"dimgrow-tf[rs]\"` (or "
            "`pip install -c requirements/constraints-py3.11.txt keras-rs`)."
            + note
        ) from err
    return keras_rs


def check_tower_args(hidden_units, dropout):
    """Returns `(hidden_units tuple, dropout float)` or raises a ValueError."""
    hidden_units = tuple(int(u) for u in hidden_units)
    if any(u < 1 for u in hidden_units):
        raise ValueError(f"`hidden_units` must be positive. Received: {hidden_units}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: {dropout}")
    return hidden_units, float(dropout)


def mlp_tower(hidden_units, dropout, prefix):
    """Dense -> BatchNorm -> ReLU -> Dropout per hidden layer, then `Dense(1)`
    (a logit): the deep part of the reference's Wide&Deep."""
    layers = []
    for i, units in enumerate(hidden_units):
        layers += [
            keras.layers.Dense(units, name=f"{prefix}_{i}"),
            keras.layers.BatchNormalization(name=f"{prefix}_bn_{i}"),
            keras.layers.ReLU(name=f"{prefix}_relu_{i}"),
            keras.layers.Dropout(dropout, name=f"{prefix}_dropout_{i}"),
        ]
    layers.append(keras.layers.Dense(1, name=f"{prefix}_out"))
    return layers


def build_tower(layers, shape):
    """Builds `layers` in order from `shape`; returns the output shape."""
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


def run_tower(layers, x, training):
    for layer in layers:
        x = layer(x, training=training)
    return x


def check_backbone(backbone):
    """Raises unless the named backbone can be built here.

    A ValueError names the known backbones; `"dcn_v2"` without keras-rs
    raises `require_keras_rs`'s ImportError (on Python 3.10 it says which
    backbones are available). A factory (callable) passes.
    """
    from dimgrow_tf.models.builders import BACKBONES

    if callable(backbone):
        return
    if backbone not in BACKBONES:
        raise ValueError(f"`backbone` must be one of {BACKBONES}. Received: {backbone!r}")
    if backbone == "dcn_v2":
        require_keras_rs("The 'dcn_v2' backbone (DCNv2)")
