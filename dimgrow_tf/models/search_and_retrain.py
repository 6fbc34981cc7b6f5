"""End-to-end helpers: run a search, retrain at the final dims, evaluate."""

import dataclasses
import os
import time

import keras
import numpy as np

from dimgrow_tf.callbacks.dimgrow_callback import DimGrowCallback
from dimgrow_tf.data.datasets import to_dataset
from dimgrow_tf.models.builders import build_model
from dimgrow_tf.models.builders import build_search_model


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Training hyperparameters shared by search and retrain.

    Args:
        batch_size: int. Defaults to `256`.
        epochs: int. Maximum epochs. Defaults to `10`.
        patience: int. Early-stopping patience on `val_auc`. Defaults to `2`.
        learning_rate: float. Adam learning rate. Defaults to `1e-3`.
        backbone: str. Defaults to `"wide_deep"`.
        output_dim: int. Defaults to `64`.
        seed: int. Defaults to `0`.
    """

    batch_size: int = 256
    epochs: int = 10
    patience: int = 2
    learning_rate: float = 1e-3
    backbone: str = "wide_deep"
    output_dim: int = 64
    seed: int = 0


def binary_metrics(labels, probs):
    """Exact ROC AUC (ties averaged) and mean log loss."""
    labels = np.asarray(labels, dtype="float64").ravel()
    probs = np.clip(np.asarray(probs, dtype="float64").ravel(), 1e-7, 1 - 1e-7)
    order = np.argsort(probs, kind="mergesort")
    ranks = np.empty(len(probs))
    sorted_probs = probs[order]
    start = 0
    while start < len(probs):
        end = start
        while end + 1 < len(probs) and sorted_probs[end + 1] == sorted_probs[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    pos = labels.sum()
    neg = len(labels) - pos
    auc = (ranks[labels == 1].sum() - pos * (pos + 1) / 2.0) / max(pos * neg, 1.0)
    logloss = -np.mean(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))
    return {"auc": float(auc), "logloss": float(logloss)}


def evaluate(model, split, batch_size=4096):
    features, labels = split
    probs = model.predict(dict(features), batch_size=batch_size, verbose=0)
    return binary_metrics(labels, probs)


def _early_stopping(settings):
    return keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=settings.patience
    )


def run_search(fields, train, valid, settings=TrainSettings(), alpha=0.02,
               callback_kwargs=None, verbose=0, save_model=None):
    """Searches dims on `train`, monitoring `valid`; returns `(result, info)`.

    `save_model`: optional `.keras` path for the searched model. The
    result records the run's settings (`result.settings`: the
    `TrainSettings`, `alpha` and the callback's arguments) and timings
    (`result.timings`: seconds, epochs, steps, resizes).
    """
    keras.utils.set_random_seed(settings.seed)
    model, emb = build_search_model(
        fields, backbone=settings.backbone, output_dim=settings.output_dim,
        alpha=alpha, seed=settings.seed, learning_rate=settings.learning_rate,
    )
    search = DimGrowCallback(emb, **(callback_kwargs or {}))
    start = time.perf_counter()
    history = model.fit(
        to_dataset(*train, settings.batch_size, shuffle=True, seed=settings.seed),
        validation_data=to_dataset(*valid, 4096),
        epochs=settings.epochs,
        callbacks=[search, _early_stopping(settings)],
        shuffle=False,
        verbose=verbose,
    )
    if save_model:
        os.makedirs(os.path.dirname(os.path.abspath(save_model)), exist_ok=True)
        model.save(save_model)
    info = {
        "seconds": time.perf_counter() - start,
        "epochs": len(history.history["loss"]),
        "steps": search.step,
        "resizes": len({e["step"] for e in search.history}),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
    }
    result = search.result()
    result.settings = {**dataclasses.asdict(settings), "alpha": float(alpha),
                       **dict(callback_kwargs or {})}
    result.timings = {"seconds": float(info["seconds"]), "epochs": int(info["epochs"]),
                      "steps": int(info["steps"]), "resizes": int(info["resizes"])}
    return result, info


def run_supernet_search(fields, train, valid, settings=TrainSettings(), alpha=0.02,
                        width=16, verbose=0):
    """The SuperNet-prune baseline: every field at `width` from the start.

    Same per-dimension ShuffleGates and regulariser as DimGrow, but never
    resized (`low=0, high=1` can never trigger); the final dims are the
    gates > 0.5 at the best epoch (the reference's `prune_shuffle_dim`).
    Returns `(result, info)` like `run_search`.
    """
    wide = [f.with_dim(width) for f in fields]
    return run_search(
        wide, train, valid, settings, alpha=alpha,
        callback_kwargs={"low": 0.0, "high": 1.0, "max_dim": width}, verbose=verbose,
    )


def train_fixed(fields_or_result, train, valid, settings=TrainSettings(), verbose=0):
    """Trains a fixed-width model with early stopping; returns `(model, info)`."""
    keras.utils.set_random_seed(settings.seed)
    model = build_model(
        fields_or_result, backbone=settings.backbone,
        output_dim=settings.output_dim, learning_rate=settings.learning_rate,
    )
    stop = _early_stopping(settings)
    stop.restore_best_weights = True
    start = time.perf_counter()
    history = model.fit(
        to_dataset(*train, settings.batch_size, shuffle=True, seed=settings.seed),
        validation_data=to_dataset(*valid, 4096),
        epochs=settings.epochs,
        callbacks=[stop],
        shuffle=False,
        verbose=verbose,
    )
    info = {
        "seconds": time.perf_counter() - start,
        "epochs": len(history.history["loss"]),
    }
    return model, info
