"""Checks `DimGrowCallback` runs on the model and the callbacks beside it."""

import warnings

import keras

from dimgrow_tf.keras_compat import sibling_callbacks


def disable_xla(model):
    """Turns XLA off for the search model; True if it was on."""
    if not getattr(model, "jit_compile", False):
        return False
    warnings.warn(
        "DimGrowCallback: XLA (`jit_compile`) is switched off for the search "
        "model: resizing in place needs dynamic widths, which XLA cannot "
        "compile. The retrained fixed-width model may use XLA.",
        stacklevel=3,
    )
    model.jit_compile = False
    return True


def refuse_weight_restoring_callbacks(callback):
    """Raises if `EarlyStopping(restore_best_weights=True)` runs beside it."""
    for other in sibling_callbacks(callback):
        if isinstance(other, keras.callbacks.EarlyStopping) and getattr(
            other, "restore_best_weights", False
        ):
            raise ValueError(
                "DimGrowCallback cannot run with EarlyStopping("
                "restore_best_weights=True): the weights it stores have the "
                "widths of an earlier epoch, and the search changes them. Use "
                "EarlyStopping(patience=...) without restore_best_weights; "
                "DimGrowCallback.result() already reads the best epoch's gates "
                "(retrain at the searched dims afterwards)."
            )
