"""Resizing a layer inside a compiled model, in place."""

import contextlib
import warnings

from dimgrow_tf.backend_compat import build_optimizer
from dimgrow_tf.backend_compat import keras_version
from dimgrow_tf.backend_compat import optimizer_built
from dimgrow_tf.keras_compat import reindex_optimizer
from dimgrow_tf.resize.optimizer_state import dynamic_widths_supported
from dimgrow_tf.resize.optimizer_state import set_optimizer_storage
from dimgrow_tf.resize.optimizer_state import resize_optimizer_state


def apply_resize(model, layer, plan, extra_optimizers=()):
    """Resizes `layer` inside `model`; training goes on with the new widths.

    The layer's variables and the optimizer slots of those variables are
    assigned values of the new width (surviving entries carried exactly),
    one field at a time, so the transient memory of a resize is about one
    variable's old plus new buffer. The variables are the same objects with
    resizable storage (`prepare_resizing`, which `DimGrowCallback` calls
    before the first step, and this function calls too: used without the
    callback, the first resize gives the optimizer's slots resizable storage
    and the functions retrace once), so the model's traced train, test and
    predict functions stay valid: nothing is retraced. Where the storage
    cannot be resizable (a strategy refusing an unknown axis, with a
    warning), the variables are re-created and the functions retrace.

    Args:
        model: the compiled `keras.Model` holding `layer`.
        layer: a built `DimGrowEmbedding`.
        plan: dict `{field name: FieldResize}`.
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
    prepare_resizing(model, layer, extra_optimizers)
    changed = {}
    with strategy_scope(model):
        for name, change in plan.items():
            before = layer.dims.get(name)
            remaps = layer.resize({name: change})
            if remaps:
                follow_resize(model, remaps, extra_optimizers)
                changed[name] = (before, change.new_width)
    return changed


def follow_resize(model, remaps, extra_optimizers=()):
    """Resizes the optimizer slots of the variables in `remaps`.

    Also drops the traced functions of `model` when some variable had to be
    re-created (the fallback of `resize_variable`).
    """
    rebacked = any(r.rebacked for r in remaps)
    with strategy_scope(model):
        for optimizer in _optimizers(model, extra_optimizers):
            if rebacked and optimizer_built(optimizer):
                reindex_optimizer(optimizer)
            rebacked |= resize_optimizer_state(optimizer, remaps)
    if rebacked:
        reset_compiled_functions(model)


def prepare_resizing(model, layer, extra_optimizers=()):
    """Gives `layer`'s variables and their optimizer slots resizable storage.

    Builds `model.optimizer` if needed and checks that every optimizer can
    carry its state across resizes. Storage is resizable when every
    optimizer can train variables of unknown width
    (`dynamic_widths_supported`); otherwise it stays static, with a
    warning, and each resize re-creates it and retraces. Call before the
    first traced step (`DimGrowCallback` does it in `on_train_begin`);
    calling it again is free. Functions traced before a storage change are
    dropped.

    Returns:
        True when some storage was replaced.
    """
    with strategy_scope(model):
        optimizers = _optimizers(model, extra_optimizers)
        for optimizer in optimizers:
            if optimizer is getattr(model, "optimizer", None) and not optimizer_built(optimizer):
                build_optimizer(optimizer, model.trainable_variables)
        resizable = all(dynamic_widths_supported(o) for o in optimizers)
        if not resizable and layer.resizable_storage is not False:
            _warn_static_optimizers(optimizers)
        changed = layer.set_resizable_storage(resizable)
        for optimizer in optimizers:
            if optimizer_built(optimizer):
                if changed:
                    reindex_optimizer(optimizer)
                changed |= set_optimizer_storage(
                    optimizer, layer.resizable_variables(), resizable
                )
    if changed:
        reset_compiled_functions(model)
    return changed


def _warn_static_optimizers(optimizers):
    names = sorted({type(o).__name__ for o in optimizers if not dynamic_widths_supported(o)})
    warnings.warn(
        f"DimGrow: this Keras ({keras_version()}) cannot train {names} on "
        "variables of unknown width, so resizes re-create the variables and "
        "retrace the train function (slower). Use Adam, AdamW, LazyAdam or "
        "SGD, or a newer Keras, to resize in place.",
        RuntimeWarning,
        stacklevel=3,
    )


def _optimizers(model, extra_optimizers):
    main = getattr(model, "optimizer", None)
    return [o for o in (main, *extra_optimizers) if o is not None]


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
