"""End-to-end helpers: run a search, retrain at the final dims, evaluate."""

import collections
import dataclasses
import os
import time
import warnings

import keras
import numpy as np

from dimgrow_tf.callbacks.dimgrow_callback import DimGrowCallback
from dimgrow_tf.data.datasets import to_dataset
from dimgrow_tf.export.compact_model import compact_model
from dimgrow_tf.export.fold_utils import FoldError
from dimgrow_tf.export.fold_utils import find_embedding_layer
from dimgrow_tf.models.builders import build_model
from dimgrow_tf.models.builders import build_search_model
from dimgrow_tf.models.builders import compile_model
from dimgrow_tf.search_config import SearchConfig


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Training-loop settings shared by the search and the retrain.

    The one source of these defaults for the Python API, the CLI, the TFX
    module and the benchmarks.

    Args:
        batch_size: int. Defaults to `256`.
        epochs: int. Maximum epochs of each run. Defaults to `30`.
        patience: int. Early-stopping patience on `val_auc` (a search's
            unsettled epochs do not count, see `SearchConfig`). Defaults
            to `2`.
        learning_rate: float. LazyAdam learning rate. Defaults to `1e-3`.
        backbone: str. Defaults to `"wide_deep"`.
        output_dim: int. Defaults to `64`.
        seed: int. Defaults to `0`.
    """

    batch_size: int = 256
    epochs: int = 30
    patience: int = 2
    learning_rate: float = 1e-3
    backbone: str = "wide_deep"
    output_dim: int = 64
    seed: int = 0

    def get_config(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


SearchRun = collections.namedtuple(
    "SearchRun", ["result", "search_model", "model", "info"]
)
SearchRun.__doc__ = (
    "What `search_and_retrain` returns: the `SearchResult`, the search "
    "model, the final model at the final dims (retrained or the search model "
    "folded, see `SearchConfig.final_model`) and `info` (seconds and epochs "
    "of the runs; `final_model`, the kept model's name; `models`, every "
    "candidate by name; `valid_auc`, their validation AUCs)."
)


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
    """`binary_metrics` of `model` on a `(features, labels)` split.

    Features the model does not take (e.g. fields a compact model dropped)
    are left out.
    """
    features, labels = split
    names = [t.name for t in model.inputs]
    features = {k: features[k] for k in names if k in features}
    probs = model.predict(features, batch_size=batch_size, verbose=0)
    return binary_metrics(labels, probs)


def fresh_dataset(dataset):
    """`dataset()` for a zero-argument factory, else `dataset` itself.

    A `tf.data.Dataset` with `shuffle(reshuffle_each_iteration=True)` gives
    each pass a new order, and which order depends on how many passes that
    object already served. A factory gives every run its own object, so a
    run's data order depends only on the factory's seed.
    """
    return dataset() if callable(dataset) else dataset


def _early_stopping(settings):
    return keras.callbacks.EarlyStopping(
        monitor="val_auc", mode="max", patience=settings.patience
    )


def search(fields, train_ds, valid_ds, settings=TrainSettings(), config=SearchConfig(),
           callbacks=(), verbose=0):
    """Runs a DimGrow search with `model.fit`; returns `(result, model, info)`.

    The search model (`build_search_model`, LazyAdam) trains on `train_ds`
    with `DimGrowCallback(config)` and `EarlyStopping(patience)` on
    `valid_ds`'s AUC, which does not stop the search while widths are still
    changing. With `config.gate_updates="validation"` the gates learn on
    `valid_ds` batches of the training batch size (DARTS). `result.settings`
    records `settings` and `config`;
    `result.timings` the wall time, epochs, steps and resizes.

    Args:
        fields: list of FieldConfig (start widths, usually 1).
        train_ds, valid_ds: `tf.data.Dataset`s of batched `(features, label)`,
            or zero-argument callables that return one (see
            `search_and_retrain`).
        settings: `TrainSettings`. Defaults to `TrainSettings()`.
        config: `SearchConfig`. Defaults to `SearchConfig()`.
        callbacks: more Keras callbacks, run after the search's. Defaults
            to `()`.
        verbose: int. Keras `fit` verbosity; > 0 also prints resizes.
            Defaults to `0`.
    """
    train_ds, valid_ds = fresh_dataset(train_ds), fresh_dataset(valid_ds)
    keras.utils.set_random_seed(settings.seed)
    model, emb = build_search_model(
        fields, backbone=settings.backbone, output_dim=settings.output_dim,
        alpha=config.alpha, seed=settings.seed, learning_rate=settings.learning_rate,
        regularizer=config.regularizer,
    )
    gate_data = None
    if config.gate_updates == "validation":
        gate_data = valid_ds.unbatch().batch(settings.batch_size)
        gate_data = gate_data.shuffle(64, seed=settings.seed).repeat()
    callback = DimGrowCallback(emb, config, gate_data=gate_data, verbose=int(verbose > 0))
    start = time.perf_counter()
    history = model.fit(
        train_ds, validation_data=valid_ds, epochs=settings.epochs,
        callbacks=[callback, _early_stopping(settings), *callbacks],
        shuffle=False,  # a Dataset is shuffled by its own pipeline
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    result = callback.result()
    result.settings = {**settings.get_config(), **config.get_config()}
    result.timings = {
        "seconds": float(seconds),
        "epochs": len(history.history["loss"]),
        "steps": int(callback.step),
        "resizes": len({e["step"] for e in callback.history}),
        "settled": bool(callback.settled),
    }
    info = dict(result.timings, history={
        k: [float(x) for x in v] for k, v in history.history.items()
    })
    return result, model, info


def retrain(fields_or_result, train_ds, valid_ds, settings=TrainSettings(),
            callbacks=(), verbose=0):
    """Trains a fixed-width model with early stopping; returns `(model, info)`.

    The model (`build_model`) keeps the weights of its best `val_auc` epoch.
    `train_ds` and `valid_ds` are datasets or factories, as in `search`.
    """
    train_ds, valid_ds = fresh_dataset(train_ds), fresh_dataset(valid_ds)
    keras.utils.set_random_seed(settings.seed)
    model = build_model(
        fields_or_result, backbone=settings.backbone,
        output_dim=settings.output_dim, learning_rate=settings.learning_rate,
    )
    stop = _early_stopping(settings)
    stop.restore_best_weights = True
    start = time.perf_counter()
    history = model.fit(
        train_ds, validation_data=valid_ds, epochs=settings.epochs,
        callbacks=[stop, *callbacks], shuffle=False, verbose=verbose,
    )
    return model, {
        "seconds": time.perf_counter() - start,
        "epochs": len(history.history["loss"]),
    }


def searched_model(search_model, result, learning_rate=1e-3):
    """The search model at `result`'s final dims, its gates folded, compiled.

    The fast path that skips the retrain: `compact_model(search_model,
    result=result)` (what `dimgrow export search_model.keras` serves),
    compiled like `build_model` so it can be evaluated or trained further.
    Raises `FoldError` when the search model cannot give exactly those dims
    (a field has fewer columns now, or every field would be dropped).
    """
    model = compact_model(search_model, result=result)
    widths = {f.name: f.dim for f in find_embedding_layer(model).input_fields}
    final = {name: dim for name, dim in result.dims.items() if dim}
    if widths != final:  # a field shrank below its final dims after the best epoch
        raise FoldError(f"The search model has widths {widths} now; the final dims are {final}.")
    compile_model(model, learning_rate)
    return model


def validation_auc(model, dataset):
    """Exact AUC of `model` over one pass of a batched `(features, label)`
    dataset (features the model does not take are left out)."""
    names = [t.name for t in model.inputs]
    labels, probs = [], []
    for features, label in dataset:
        probs.append(np.asarray(model({k: features[k] for k in names}, training=False)))
        labels.append(np.asarray(label))
    return binary_metrics(np.concatenate(labels, axis=None),
                          np.concatenate(probs, axis=None))["auc"]


def search_and_retrain(fields, train_ds, valid_ds, settings=TrainSettings(),
                       config=SearchConfig(), retrain_settings=None, callbacks=None,
                       verbose=0):
    """The search, then a retrain at its final dims: the one path the CLI,
    the TFX Trainer and the benchmarks run.

    `config.final_model` decides the returned model, always at the final
    dims: the retrained one (`"retrain"`), the search model folded without
    a retrain (`"searched"`, see `searched_model`) or, by default
    (`"best"`), whichever of the two has the higher AUC on `valid_ds`.

    Pass `train_ds` as a factory (`lambda: to_dataset(..., shuffle=True,
    seed=s)`) to make the retrain independent of the search: each run then
    gets a fresh dataset, so the retrain sees the same data order as a
    `retrain` of the same dims on its own, whatever the search's length. A
    dataset object is shared: the retrain continues its shuffle sequence
    where the search left it.

    Args:
        fields, train_ds, valid_ds, settings, config: as in `search`.
        retrain_settings: `TrainSettings` of the retrain; `None` uses
            `settings`. Defaults to `None`.
        callbacks: optional dict `{"search": [...], "retrain": [...]}` of
            more callbacks per run. Defaults to `None`.
        verbose: as in `search`.

    Returns:
        `SearchRun(result, search_model, model, info)`; `result.timings`
        also holds the retrain's seconds and epochs and `final_model`, the
        kept model's name (`"retrained"` or `"searched"`).

    Example:

    ```python
    from dimgrow_tf.data.datasets import to_dataset

    run = dimgrow_tf.search_and_retrain(
        fields, lambda: to_dataset(x, y, 256, shuffle=True), valid_ds)
    run.result.dims, run.model.evaluate(test_ds)
    ```
    """
    callbacks = callbacks or {}
    retrain_settings = retrain_settings or settings
    result, search_model, search_info = search(
        fields, train_ds, valid_ds, settings, config,
        callbacks=callbacks.get("search", ()), verbose=verbose,
    )
    models, info = {}, {"search": search_info}
    if config.final_model != "retrain":
        try:
            models["searched"] = searched_model(
                search_model, result, retrain_settings.learning_rate)
        except FoldError as error:  # e.g. a field shrank below its final dims
            info["searched_error"] = str(error)
            warnings.warn(f"The search model cannot be folded at the final dims ({error}); "
                          "the final model is the retrained one.", stacklevel=2)
    if config.final_model != "searched" or "searched" not in models:
        models["retrained"], info["retrain"] = retrain(
            result, train_ds, valid_ds, retrain_settings,
            callbacks=callbacks.get("retrain", ()), verbose=verbose,
        )
        result.timings = dict(
            result.timings, retrain_seconds=float(info["retrain"]["seconds"]),
            retrain_epochs=int(info["retrain"]["epochs"]),
        )
    kept = next(iter(models))
    if len(models) > 1:
        valid = fresh_dataset(valid_ds)
        info["valid_auc"] = {k: validation_auc(m, valid) for k, m in models.items()}
        # The retrain wins ties; the searched model needs a strictly higher AUC.
        kept = max(("retrained", "searched"), key=lambda k: info["valid_auc"][k])
    info.update(final_model=kept, models=models)
    result.timings = dict(result.timings, final_model=kept)
    return SearchRun(result, search_model, models[kept], info)


def run_search(fields, train, valid, settings=TrainSettings(), config=SearchConfig(),
               verbose=0, save_model=None):
    """`search` on `(features, labels)` arrays; returns `(result, info)`.

    `save_model`: optional `.keras` path for the searched model.
    """
    result, model, info = search(
        fields, to_dataset(*train, settings.batch_size, shuffle=True, seed=settings.seed),
        to_dataset(*valid, 4096), settings, config, verbose=verbose,
    )
    if save_model:
        os.makedirs(os.path.dirname(os.path.abspath(save_model)), exist_ok=True)
        model.save(save_model)
    info["model"] = model
    return result, info


def supernet_config(config=SearchConfig(), width=16):
    """The SuperNet-prune baseline's config: same gates, never resized.

    Every field starts at `width` (`uniform_fields`); `low=0, high=1` can
    never trigger, and the final dims are the gates > 0.5 at the best
    epoch (the reference's `prune_shuffle_dim`) whatever `config.final_dims`
    says: keeping every searched column would keep all `width` of them.
    """
    return config.replace(low=0.0, high=1.0, max_dim=width, final_dims="gates")


def train_fixed(fields_or_result, train, valid, settings=TrainSettings(), verbose=0):
    """`retrain` on `(features, labels)` arrays; returns `(model, info)`."""
    return retrain(
        fields_or_result,
        to_dataset(*train, settings.batch_size, shuffle=True, seed=settings.seed),
        to_dataset(*valid, 4096), settings, verbose=verbose,
    )
