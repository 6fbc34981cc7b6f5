"""Every access to non-public tf_keras attributes, each with its reason.

The tf_keras counterpart of `dimgrow_tf.keras_compat`, used only when
TensorFlow runs on tf_keras (`TF_USE_LEGACY_KERAS=1`, see
`dimgrow_tf.backend_compat`). It covers the optimizers of
`tf_keras.optimizers` (TF >= 2.11: `Adam`, `AdamW`, `SGD`, `Adagrad`,
`RMSprop`, ...); the `tf_keras.optimizers.legacy` ones are refused.
Tested on tf_keras 2.21 by `tests_tfrs/` (`bash dev.sh test-tfrs`).
"""

import contextlib

import tensorflow as tf


def check_optimizer(optimizer):
    """Raises NotImplementedError for a tf_keras legacy optimizer.

    Legacy optimizers (`tf_keras.optimizers.legacy.*`) keep slots in
    per-variable dicts created on the first step; only the TF >= 2.11
    optimizers, whose slots are built for a variable list, are supported.
    """
    if not hasattr(optimizer, "_index_dict") and not hasattr(optimizer, "_var_key"):
        raise NotImplementedError(
            f"{type(optimizer).__name__} is a legacy tf_keras optimizer; "
            "DimGrow resizes the slots of tf_keras.optimizers.Adam, AdamW, SGD, "
            "Adagrad and RMSprop (TF >= 2.11 optimizers)."
        )


def is_built(optimizer):
    """Whether a tf_keras optimizer has built its slots.

    Reason: tf_keras sets the private flag `_built` in `build`; there is no
    public `built` attribute on its optimizers.
    """
    return bool(getattr(optimizer, "_built", False))


def variable_index(optimizer, variable):
    """Index of `variable`'s slots in the optimizer's slot lists, or None.

    Reason: a tf_keras optimizer maps a variable to its slot index through
    the private `_index_dict`, keyed by `_var_key(variable)` (the variable's
    unique id); no public API maps a variable to its slots.
    """
    index = getattr(optimizer, "_index_dict", None)
    if not index:
        return None
    return index.get(optimizer._var_key(variable))


def optimizer_slots(optimizer, variable):
    """`{list name: slot variable}` of `variable` in a built tf_keras optimizer.

    Reason: tf_keras optimizers keep their slots in private lists aligned
    with `_index_dict` (Adam's `_momentums`/`_velocities`, SGD's
    `momentums`, Adagrad's `_accumulators`, RMSprop's `_velocities`/
    `_momentums`/`_average_gradients`, the EMA's
    `_model_variables_moving_average`). Every list attribute of that length
    holding only `tf.Variable`s is a slot list (`_variables`, all of the
    optimizer's variables, is not). Returns `{}` for a variable the
    optimizer does not train.
    """
    position = variable_index(optimizer, variable)
    if position is None:
        return {}
    count = len(optimizer._index_dict)
    slots = {}
    for attr, value in vars(optimizer).items():
        if attr == "_variables" or not isinstance(value, list) or len(value) != count:
            continue
        items = [v for v in value if v is not None]
        if items and all(isinstance(v, tf.Variable) for v in items):
            if value[position] is not None:
                slots[attr] = value[position]
    return slots


def build_resizable(optimizer, variables):
    """Builds a tf_keras optimizer whose slots of resizable variables are
    resizable too (the same axis unknown).

    Reason: tf_keras's `add_variable_from_reference` makes a slot from
    `tf.zeros(model_variable.shape)`, which fails for a variable with an
    unknown axis, and would give the slot a static shape anyway. While
    `build` runs, this instance's `add_variable_from_reference` is
    replaced by one that passes zeros of the variable's current shape and
    creates the slot variable (through `tf.variable_creator_scope`, a
    public TF API) with the variable's partially known shape; tf_keras's
    own method still names, tracks and registers the slot. Building twice
    is free (tf_keras's `build` returns when built).
    """
    check_optimizer(optimizer)
    if is_built(optimizer):
        return
    original = optimizer.add_variable_from_reference

    def add_variable_from_reference(model_variable, variable_name, shape=None,
                                    initial_value=None):
        static = model_variable.shape
        if shape is not None or static.rank is None or static.is_fully_defined():
            return original(model_variable, variable_name, shape=shape,
                            initial_value=initial_value)
        if initial_value is None:
            dtype = getattr(model_variable, "true_dtype", model_variable.dtype)
            initial_value = tf.zeros(tf.shape(model_variable), dtype=dtype)
        with _created_with_shape(static):
            return original(model_variable, variable_name,
                            initial_value=initial_value)

    optimizer.add_variable_from_reference = add_variable_from_reference
    try:
        with tf.init_scope():
            optimizer.build(list(variables))
    except ValueError as err:
        raise NotImplementedError(
            f"{type(optimizer).__name__} (tf_keras) sizes its slots from its "
            "variables' static shape, which a resizable variable does not have "
            f"({err}). Use tf_keras.optimizers.Adam, AdamW, SGD or RMSprop."
        ) from err
    finally:
        del optimizer.add_variable_from_reference


@contextlib.contextmanager
def _created_with_shape(shape):
    """Variables created inside get `shape` (partially known) as their shape."""

    def creator(next_creator, **kwargs):
        kwargs["shape"] = shape
        return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        yield


def parent_tensors(tensor):
    """The symbolic tensors a tf_keras functional tensor was computed from.

    Returns `[]` for a model input. Reason: tf_keras records a symbolic
    tensor's producer in the private `_keras_history` (layer, node index)
    and the layer's private `_inbound_nodes`; the node's public
    `keras_inputs` lists its inputs. Keras 3 exposes the same through
    `input_tensors`, which in tf_keras is not flattened.
    """
    layer, node_index, _ = tensor._keras_history
    node = layer._inbound_nodes[node_index]
    if node.is_input:
        return []
    return list(node.keras_inputs)
