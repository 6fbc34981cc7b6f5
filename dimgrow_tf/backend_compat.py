"""The Keras dimgrow_tf runs on: Keras 3, or tf_keras (Keras 2) for TFRS.

TensorFlow >= 2.16 makes `tf.keras` Keras 3 unless `TF_USE_LEGACY_KERAS=1`
is set and `tf_keras` is installed; then `tf.keras` is `tf_keras`, the
Keras that TensorFlow Recommenders (0.7.x) and TFX's Keras 2 code need.
dimgrow_tf follows the Keras that TensorFlow uses, decided once at import
(as keras-nlp <= 0.12 did): the core modules (the embedding layers, the
resize engine, `DimGrowCallback`, the export) write `keras` from here.

What differs between the two, and how this module hides it:

- **Variables.** A Keras 3 variable keeps its values in a backing
  `tf.Variable` (`variable.value`) and records its shape itself; a tf_keras
  variable *is* a `tf.Variable` (`variable.value` is a method). `storage`
  returns the `tf.Variable` in both; `current_shape` the shape of the
  values held now.
- **Resizable storage.** Keras 3 variables get a resizable backing
  variable when a search starts (`dimgrow_tf.resize.resize_utils`); a
  tf_keras field variable is created resizable (its width axis `None`) by
  `add_field_weight`, so a resize is an `assign` from the first step on.
- **Seeds.** Keras 3 has `keras.random.SeedGenerator`; for tf_keras,
  `SeedGenerator` here is a stand-in with the same `state`/`next()` and
  the same draws (stateless ops keyed by `[seed, counter]`).
- **Optimizers.** `build_optimizer` builds a tf_keras optimizer with slots
  of unknown width for the resizable variables (see `tf_keras_compat`).

Everything else the core uses (`keras.layers`, `keras.callbacks`,
`keras.metrics`, `keras.initializers`, `keras.saving`) has the same name
in both.
"""

import os
import random

import numpy as np
import tensorflow as tf


CHOICE_VARIABLE = "DIMGROW_KERAS"
CHOICES = {"keras": True, "tf_keras": False}


def tensorflow_uses_keras_3():
    """Whether dimgrow_tf runs on Keras 3 (False: tf_keras, Keras 2).

    `DIMGROW_KERAS=keras|tf_keras` decides when set: TensorFlow Transform
    sets `TF_USE_LEGACY_KERAS=1` on import, so a TFX Trainer whose module
    uses Keras 3 (this repo's `pipelines/`) sets `DIMGROW_KERAS=keras`.
    Otherwise it follows `tf.keras`, with the keras-nlp <= 0.12 test: Keras
    3 has `keras.version()`; `tf_keras` (what `tf.keras` is under
    `TF_USE_LEGACY_KERAS=1`) has not.
    """
    choice = os.environ.get(CHOICE_VARIABLE, "").strip()
    if choice:
        if choice not in CHOICES:
            raise ValueError(
                f"{CHOICE_VARIABLE}={choice!r}: expected one of {sorted(CHOICES)}."
            )
        return CHOICES[choice]
    module = tf.keras
    return hasattr(module, "version") and module.version().startswith("3.")


KERAS_3 = tensorflow_uses_keras_3()

if KERAS_3:
    import keras  # noqa: F401  (re-exported)
else:
    try:
        import tf_keras as keras  # noqa: F401  (re-exported)
    except ImportError as err:  # pragma: no cover - TF would have failed first
        raise ImportError(
            "TF_USE_LEGACY_KERAS is set but tf_keras is not installed: "
            "`pip install tf-keras` matching your TensorFlow version."
        ) from err


def keras_name():
    """`"keras"` (Keras 3) or `"tf_keras"`: the Keras in use."""
    return "keras" if KERAS_3 else "tf_keras"


def keras_version():
    """The version string of the Keras in use."""
    return keras.__version__


def legacy_keras_requested():
    """Whether the environment asks TensorFlow for tf_keras."""
    return os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")


def storage(variable):
    """The `tf.Variable` holding a Keras variable's values.

    Keras 3: `variable.value` (the backing variable); tf_keras: `variable`.
    """
    if KERAS_3:
        return getattr(variable, "value", variable)
    return variable


def current_shape(variable):
    """The shape of the values `variable` holds now, as a tuple of ints.

    Keras 3 records it (`variable.shape`, kept up to date by a resize); a
    resizable tf_keras variable reports `None` on its width axis, so the
    shape is read from its value (`tf.shape`, no copy of the values).
    """
    if KERAS_3:
        return tuple(variable.shape)
    shape = variable.shape
    if shape.is_fully_defined():
        return tuple(shape.as_list())
    return tuple(int(d) for d in tf.shape(variable).numpy())


def itemsize(dtype):
    """Bytes per element of a Keras 3 (`"float32"`) or TF dtype."""
    return np.dtype(tf.as_dtype(dtype).as_numpy_dtype).itemsize


def to_numpy(x):
    """A NumPy copy of a tensor or variable of either Keras."""
    if KERAS_3:
        return keras.ops.convert_to_numpy(x)
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def is_variable(value):
    """Whether `value` is a variable of the Keras in use."""
    return isinstance(value, keras.Variable if KERAS_3 else tf.Variable)


def loss_scale_optimizer_types():
    """The loss-scale wrapper classes whose `inner_optimizer` holds slots."""
    if KERAS_3:
        return (keras.optimizers.LossScaleOptimizer,)
    return (keras.mixed_precision.LossScaleOptimizer,)


def add_field_weight(layer, name, shape, initializer, trainable, axis):
    """`layer.add_weight` of a resizable field variable (widths on `axis`).

    Read without autocast (tables are gathered first and only the gathered
    rows cast). Trainable variables are not aggregated across replicas,
    the moving mean is averaged. Under tf_keras the variable is created
    with axis `axis` unknown (a `getter`, which tf_keras's `add_weight`
    accepts), so resizing it is an `assign`; Keras 3 variables are given
    resizable storage when a search starts.
    """
    if KERAS_3:
        return layer.add_weight(
            shape=shape,
            initializer=initializer,
            trainable=trainable,
            aggregation="none" if trainable else "mean",
            name=name,
            autocast=False,
        )
    return layer.add_weight(
        name=name,
        shape=shape,
        initializer=initializer,
        trainable=trainable,
        aggregation=(tf.VariableAggregation.NONE if trainable
                     else tf.VariableAggregation.MEAN),
        autocast=False,
        getter=_resizable_getter(axis),
    )


def _resizable_getter(axis):
    def getter(name, shape=None, dtype=None, initializer=None, trainable=None,
               synchronization=tf.VariableSynchronization.AUTO,
               aggregation=tf.VariableAggregation.NONE, **unused):
        dtype = tf.as_dtype(dtype or tf.float32)
        initializer = keras.initializers.get(initializer)
        width_free = list(shape)
        width_free[axis] = None
        return tf.Variable(
            lambda: initializer(shape, dtype=dtype),
            name=name,
            shape=tf.TensorShape(width_free),
            dtype=dtype,
            trainable=True if trainable is None else trainable,
            synchronization=synchronization,
            aggregation=aggregation,
        )

    return getter


class _SeedState:
    """tf_keras stand-in for `keras.random.SeedGenerator`.

    `state` is an int64 variable `[seed, counter]`; `next()` returns it and
    advances the counter, as Keras 3's generator does. It is a plain
    object, so tf_keras does not track it: the layer saves `state` itself.
    """

    def __init__(self, seed=None):
        if seed is None:
            seed = random.randint(1, int(1e9))
        self.state = tf.Variable(
            [int(seed), 0], dtype=tf.int64, trainable=False, name="seed_generator_state"
        )

    def next(self):
        value = tf.identity(self.state)
        self.state.assign_add(tf.constant([0, 1], tf.int64))
        return value


def SeedGenerator(seed=None):  # noqa: N802 - stands for a class
    """`keras.random.SeedGenerator(seed)`, or its tf_keras stand-in."""
    if KERAS_3:
        return keras.random.SeedGenerator(seed)
    return _SeedState(seed)


def random_normal(shape, stddev, seed):
    """N(0, stddev) draws from a `SeedGenerator` (checkpointed state)."""
    if KERAS_3:
        return keras.random.normal(shape, stddev=stddev, seed=seed)
    return tf.random.stateless_normal(
        shape, seed=tf.cast(seed.next(), tf.int32), stddev=stddev
    )


def random_shuffle(x, seed):
    """`x` permuted along axis 0 by a draw from a `SeedGenerator`."""
    if KERAS_3:
        return keras.random.shuffle(x, seed=seed)
    order = tf.argsort(
        tf.random.stateless_uniform([tf.shape(x)[0]], seed=tf.cast(seed.next(), tf.int32))
    )
    return tf.gather(x, order)


def optimizer_built(optimizer):
    """Whether `optimizer` (Keras 3 or tf_keras) has built its slots."""
    if KERAS_3:
        return optimizer.built
    from dimgrow_tf import tf_keras_compat

    return tf_keras_compat.is_built(optimizer)


def build_optimizer(optimizer, variables):
    """Builds `optimizer` for `variables` (idempotent).

    tf_keras creates each slot from its variable's static shape, which a
    resizable variable does not have; `tf_keras_compat.build_resizable`
    creates those slots with the same unknown axis instead.
    """
    if KERAS_3:
        optimizer.build(variables)
        return
    from dimgrow_tf import tf_keras_compat

    tf_keras_compat.build_resizable(optimizer, variables)
