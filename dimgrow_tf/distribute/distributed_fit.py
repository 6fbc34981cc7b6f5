"""`distributed_fit`: a DimGrow search or a retrain on every worker of a cluster."""

import warnings

import keras
import tensorflow as tf

from dimgrow_tf.distribute.agreement_utils import WidthAgreement
from dimgrow_tf.distribute.checkpoint_utils import python_random_state
from dimgrow_tf.distribute.checkpoint_utils import restore_checkpoint
from dimgrow_tf.distribute.checkpoint_utils import save_checkpoint
from dimgrow_tf.distribute.checkpoint_utils import set_python_random_state
from dimgrow_tf.distribute.cluster_utils import is_chief
from dimgrow_tf.distribute.cluster_utils import worker_count
from dimgrow_tf.distribute.distributed_fit_config import DistributedFitConfig
from dimgrow_tf.distribute.step_utils import DistributedSteps


def distributed_fit(
    model,
    train_data,
    validation_data=None,
    epochs=1,
    callbacks=None,
    checkpoint_dir=None,
    config=None,
):
    """Trains `model` under its distribution strategy with a custom loop.

    Keras 3's `fit` does not run under `MultiWorkerMirroredStrategy`
    (keras-team/keras#20585); this loop does, and also runs under
    `MirroredStrategy` and without a strategy. Call it with the same
    arguments in every worker process (each with its `TF_CONFIG`). It
    drives Keras callbacks the way `fit` does, so a `DimGrowCallback` in
    `callbacks` runs the search: it counts steps from
    `optimizer.iterations`, checks the gates after the training steps and
    resizes the layer and the optimizer's slots in place. Gates are
    mirrored variables trained with all-reduced gradients, so every worker
    takes the same decision at the same step from its own copy. With
    several worker processes and `config.verify_agreement` (the default),
    before each step the workers also compare `(epoch, step, iterations,
    widths)` and stop with a `RuntimeError` if any differs, the fields
    that grew are broadcast from the first replica (so grown columns are
    equal even if the processes' random states drifted), and at each epoch
    end a checksum of every model and optimizer variable is compared
    across workers.

    Epoch logs hold `loss`, the compiled metrics and their `val_` forms,
    all global (aggregated over every replica), so a `DimGrowCallback`
    with `monitor="val_auc"` and an `EarlyStopping` decide alike on all
    workers. Batch logs hold the global batch `loss`.

    With `checkpoint_dir` (a folder every worker can read, e.g. a bucket),
    the chief saves the weights, optimizer, widths and search state every
    `config.checkpoint_every` epochs, and a restarted job resumes after
    the last saved epoch with the same widths and search state (and the
    chief's Python `random` state, from which Keras seeds the columns a
    later grow draws).

    Args:
        model: a compiled `keras.Model` built and compiled inside
            `strategy.scope()` (single output).
        train_data: `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)`
            batches of the **global** batch size; it is split between the
            replicas (`strategy.experimental_distribute_dataset`). Use
            `drop_remainder=True` when there is more than one replica.
        validation_data: optional `tf.data.Dataset` like `train_data`.
            Defaults to `None`.
        epochs: int. Defaults to `1`.
        callbacks: list of Keras callbacks (put `DimGrowCallback` first).
            Defaults to `None`.
        checkpoint_dir: str or None. Where checkpoints go. Defaults to
            `None` (no checkpoints).
        config: `DistributedFitConfig`. Defaults to `DistributedFitConfig()`.

    Returns:
        The `keras.callbacks.History` of the run (also `model.history`),
        with the epochs restored from a checkpoint included. Its `traces`
        (`{"train": n, "eval": m}`, traces of the step functions) and
        `broadcasts` (steps whose grown fields were broadcast) describe the
        run.

    Example:

    ```python
    strategy = tf.distribute.MultiWorkerMirroredStrategy()   # first TF call
    with strategy.scope():
        model, emb = dimgrow_tf.build_search_model(fields)
    search = dimgrow_tf.DimGrowCallback(emb, dimgrow_tf.SearchConfig())
    dimgrow_tf.distributed_fit(model, train_ds, valid_ds, epochs=10,
                               callbacks=[search], checkpoint_dir="gs://b/ckpt")
    result = search.result()                                  # same on every worker
    ```
    """
    config = config if config is not None else DistributedFitConfig()
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be a positive integer. Received: {epochs!r}")
    strategy = _check_model(model)
    _warn_uneven_batches(train_data, strategy)
    chief = is_chief(strategy)
    callback_list = keras.callbacks.CallbackList(
        callbacks,
        add_history=True,
        add_progbar=bool(config.verbose) and chief,
        model=model,
        verbose=config.verbose,
        epochs=epochs,
    )
    history = model.history  # CallbackList(add_history=True) sets it
    steps = DistributedSteps(model, strategy)
    train_dist = strategy.experimental_distribute_dataset(train_data)
    valid_dist = (
        strategy.experimental_distribute_dataset(validation_data)
        if validation_data is not None
        else None
    )
    model.stop_training = False
    callback_list.on_train_begin()
    with strategy.scope():
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    done, logs = 0, {}
    if checkpoint_dir is not None:
        state = restore_checkpoint(model, checkpoint_dir, strategy)
        if state is not None:
            # A run that EarlyStopping ended stays ended.
            done = epochs if state.get("stopped") else int(state["epoch"])
            history.epoch = list(state["history_epochs"])
            history.history = {k: list(v) for k, v in state["history"].items()}
            if state.get("python_random") is not None:
                set_python_random_state(state["python_random"])
    # One process holds one copy of the widths: nothing to compare.
    agreement = WidthAgreement(
        model, steps, enabled=config.verify_agreement and worker_count(strategy) > 1
    )
    for epoch in range(done, epochs):
        steps.reset()
        callback_list.on_epoch_begin(epoch)
        index = 0
        for index, batch in enumerate(train_dist):
            callback_list.on_train_batch_begin(index)
            agreement.sync(epoch, index)
            loss = steps.train(batch)
            callback_list.on_train_batch_end(index, {"loss": float(loss)})
            if model.stop_training:  # as in `fit`, e.g. TerminateOnNaN
                break
        agreement.sync(epoch, index + 1)
        logs = steps.results("train")
        if valid_dist is not None:
            steps.evaluate(valid_dist)
            logs.update({f"val_{k}": v for k, v in steps.results("val").items()})
        agreement.check_values(epoch)
        callback_list.on_epoch_end(epoch, logs)
        last = epoch + 1 == epochs or model.stop_training
        if checkpoint_dir is not None and ((epoch + 1) % config.checkpoint_every == 0 or last):
            state = {
                "epoch": epoch + 1,
                "stopped": bool(model.stop_training),
                "python_random": python_random_state(),
                "history_epochs": list(history.epoch),
                "history": {k: [_plain(v) for v in vs] for k, vs in history.history.items()},
            }
            save_checkpoint(model, checkpoint_dir, state, strategy, config.keep_checkpoints)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    history.traces = dict(steps.traces)
    history.broadcasts = agreement.broadcasts
    return history


def _check_model(model):
    if getattr(model, "optimizer", None) is None:
        raise ValueError("`model` must be compiled (model.compile(...)) before distributed_fit.")
    strategy = model.distribute_strategy
    variables = model.trainable_variables
    if strategy.num_replicas_in_sync > 1 and variables:
        if not isinstance(variables[0].value, tf.distribute.DistributedValues):
            raise ValueError(
                "The model's variables are not distributed: build and compile "
                "the model inside `strategy.scope()`."
            )
    return strategy


def _warn_uneven_batches(dataset, strategy):
    if strategy.num_replicas_in_sync < 2:
        return
    spec = tf.nest.flatten(dataset.element_spec)[0]
    if spec.shape.rank and spec.shape[0] is None:
        warnings.warn(
            "distributed_fit: the training batches have no static size. With "
            f"{strategy.num_replicas_in_sync} replicas the last batch of an "
            "epoch may split unevenly, which biases its loss scaling and "
            "ShuffleGate statistics; batch with `drop_remainder=True`.",
            stacklevel=3,
        )


def _plain(value):
    """A JSON-able Python number for a logged value (ints stay ints)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return float(value)
