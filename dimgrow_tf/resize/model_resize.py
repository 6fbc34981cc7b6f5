"""Resizing a layer inside a compiled model, without stale state."""

import contextlib
import gc

from dimgrow_tf.resize.optimizer_surgery import resize_optimizer_state
from dimgrow_tf.resize.resize_utils import release_variable


def apply_resize(model, layer, plan, initializer=None, extra_optimizers=()):
    """Resizes `layer` inside `model` and makes training use the new variables.

    Three things must happen together, or training silently keeps updating
    the old variables: the layer swaps its variables (`layer.resize`), the
    optimizer swaps those variables' slots, carrying their values
    (`resize_optimizer_state`), and the model's compiled
    train/test/predict functions are dropped so the next step retraces.
    This function does all three, one field at a time, after dropping the
    traced functions, so that each old table and its slots can be freed
    before the next field is resized: the transient memory of a resize is
    about one field's variables, not the whole model's.

    Args:
        model: the compiled `keras.Model` holding `layer`.
        layer: a built `DimGrowEmbedding`.
        plan: dict `{field name: FieldResize}`.
        initializer: initializer of fresh columns; `None` for the layer's
            default `RandomNormal(stddev=0.01)`.
        extra_optimizers: more optimizers whose state must follow (e.g. a
            DARTS gate optimizer). Defaults to `()`.

    Returns:
        dict `{field name: (old width, new width)}` of the fields changed.

    Example:

    ```python
    apply_resize(model, emb, {"user_id": FieldResize.grow_by(emb.dims["user_id"])})
    model.fit(...)   # trains the grown table, with Adam's moments carried
    ```
    """
    reset_compiled_functions(model)
    gc.collect()
    changed = {}
    with strategy_scope(model):
        for name, change in plan.items():
            before = layer.dims.get(name)
            remaps = layer.resize({name: change}, initializer=initializer)
            if remaps:
                follow_resize(model, remaps, extra_optimizers)
                changed[name] = (before, change.new_width)
            del remaps
    return changed


def follow_resize(model, remaps, extra_optimizers=()):
    """Makes `model` train the variables a resize created.

    Moves the slots of the resized variables inside `model.optimizer` (and
    `extra_optimizers`), drops the traced train/test/predict functions, then
    frees the replaced variables (`release_variable`).
    """
    reset_compiled_functions(model)
    with strategy_scope(model):
        for optimizer in (getattr(model, "optimizer", None), *extra_optimizers):
            if optimizer is not None:
                resize_optimizer_state(optimizer, remaps)
        for remap in remaps:
            release_variable(remap.old)


def reset_compiled_functions(model):
    """Drops the model's traced train/test/predict functions."""
    if getattr(model, "train_function", None) is not None:
        model.make_train_function(force=True)
    for attr in ("test_function", "predict_function"):
        if hasattr(model, attr):
            setattr(model, attr, None)


def strategy_scope(model):
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None:
        return contextlib.nullcontext()
    return strategy.scope()
