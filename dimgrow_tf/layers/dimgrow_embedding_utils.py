"""Helpers of DimGrowEmbedding: argument checks, variable specs, holders."""

import numpy as np
import tensorflow as tf

from dimgrow_tf import backend_compat
from dimgrow_tf.backend_compat import keras
from dimgrow_tf.layers import shuffle_gate_utils as sg
from dimgrow_tf.resize.field_resize import FieldResize

# Per field: variable kind -> (axis that holds the field's columns, trainable).
KINDS = {
    "embeddings": (1, True),
    "projection": (0, True),
    "gate_logits": (0, True),
    "moving_mean": (0, False),
}


class FieldVariables:
    """Plain holder (not tracked by Keras) of each field's variables."""

    def __init__(self):
        self.by_field = {}


class LayerHooks:
    """Callables a search callback registers on the layer (not saved).

    `on_resize(remaps)` runs after a load changed widths; `state_provider()`
    returns JSON-able state saved with the weights; `state_consumer(state)`
    receives it back on load.
    """

    def __init__(self):
        self.on_resize = None
        self.state_provider = None
        self.state_consumer = None


def check_layer_args(output_dim, alpha, regularizer, temperature):
    """Raises a ValueError naming the first bad constructor argument."""
    if isinstance(output_dim, bool) or not isinstance(output_dim, int) or output_dim < 1:
        raise ValueError(
            f"`output_dim` must be a positive integer. Received: output_dim={output_dim!r}"
        )
    if not float(alpha) >= 0.0:
        raise ValueError(f"`alpha` must be >= 0. Received: alpha={alpha}")
    if regularizer not in sg.REGULARIZERS:
        raise ValueError(
            f"`regularizer` must be one of {sg.REGULARIZERS}. "
            f"Received: regularizer={regularizer!r}"
        )
    if not float(temperature) > 0.0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature}")


def check_plan_entry(fields, name, change):
    """Returns the FieldConfig of `name` if `change` can apply to it, else raises."""
    if name not in fields:
        raise ValueError(f"Unknown field {name!r} in resize plan.")
    if not isinstance(change, FieldResize):
        raise TypeError(f"Plan entry for {name!r} must be a FieldResize.")
    field = fields[name]
    if field.dim == 0:
        raise ValueError(f"Field {name!r} is dropped and cannot be resized.")
    if max(change.keep, default=-1) >= field.dim:
        raise ValueError(
            f"Field {name!r} has width {field.dim}; cannot keep column "
            f"{max(change.keep)}."
        )
    return field


# The one initialisation rule of table columns and projection rows, at build
# and at every grow (the reference's N(0, 0.01) for both).
COLUMN_STDDEV = 0.01


def column_initializer():
    """`RandomNormal(stddev=COLUMN_STDDEV)`: every table column and projection row."""
    return keras.initializers.RandomNormal(stddev=COLUMN_STDDEV)


def variable_specs(field, width, output_dim):
    """`{kind: (shape, initializer)}` of a field at `width`."""
    return {
        "embeddings": ((field.vocab_size, width), column_initializer()),
        "projection": ((width, output_dim), column_initializer()),
        "gate_logits": ((width,), "zeros"),
        "moving_mean": ((width,), "zeros"),
    }


class TraceCounts:
    """How often a layer's `call` ran inside a traced function, by mode."""

    def __init__(self):
        self.train = 0
        self.inference = 0

    def add(self, training):
        if training:
            self.train += 1
        else:
            self.inference += 1

    def as_dict(self):
        return {"train": self.train, "inference": self.inference}


def read_gates(logits, temperature):
    """`{field: gate values}` from `{field: gate-logit variable}`, in one read
    of all logits (a search checks the gates after every step)."""
    names = list(logits)
    if not names:
        return {}
    values = backend_compat.to_numpy(
        tf.concat([backend_compat.storage(logits[n]) for n in names], axis=0)
    )
    gates = 1.0 / (1.0 + np.exp(-temperature * values.astype("float64")))
    widths = [backend_compat.current_shape(logits[n])[0] for n in names]
    return dict(zip(names, np.split(gates, np.cumsum(widths)[:-1])))


def read_concat(variables, axis):
    """The values of `variables` (Keras 3 or tf_keras), concatenated."""
    return tf.concat([backend_compat.storage(v) for v in variables], axis=axis)


def table_bytes(tables):
    """Bytes of `tables`, from their shapes and dtypes."""
    total = 0
    for table in tables:
        shape = backend_compat.current_shape(table)
        total += int(np.prod(shape)) * backend_compat.itemsize(table.dtype)
    return total
