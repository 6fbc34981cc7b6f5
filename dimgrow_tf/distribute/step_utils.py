"""Traced train and evaluation steps of a Keras model under a strategy."""

import keras
import tensorflow as tf


class DistributedSteps:
    """One training step and one evaluation step, run with `strategy.run`.

    The train step computes the compiled loss (Keras scales it by
    `1 / num_replicas_in_sync`, the optimizer all-reduces the gradients by
    sum, so an update equals the update of one replica on the global
    batch), applies the model's optimizer and updates a loss `Mean` and
    copies of the compiled metrics. Metric variables are sync-on-read: the
    results read here (`results`) are all-reduced over every replica of
    every worker, so each worker gets the global values.

    The layers read their widths from the variables at run time, so a
    resize in place keeps the traced functions valid. When a resize had to
    re-create a variable's storage (`apply_resize`'s fallback), the next
    step sees another storage object and retraces (`traces` counts them).
    """

    def __init__(self, model, strategy):
        self.model = model
        self.strategy = strategy
        with strategy.scope():
            self.train_metrics = [keras.metrics.Mean(name="loss")] + compiled_metrics(model)
            self.val_metrics = [keras.metrics.Mean(name="loss")] + compiled_metrics(model)
        self.traces = {"train": 0, "eval": 0}
        self._train_fn = None
        self._eval_fn = None
        self._results_fns = {}
        self._collective_fns = {}
        self._watched = None
        self._storage = None

    def _refresh(self):
        """Drops traced steps when some variable's storage was re-created."""
        optimizer = self.model.optimizer
        if self._watched is None or len(optimizer.variables) != self._optimizer_count:
            self._watched = list(self.model.variables) + list(optimizer.variables)
            self._optimizer_count = len(optimizer.variables)
            self._storage = None
        storage = [v.value for v in self._watched]
        if self._storage is None or any(a is not b for a, b in zip(storage, self._storage)):
            self._train_fn = self._eval_fn = None
            self._storage = storage

    def train(self, batch):
        """Runs one step on a distributed batch; returns the global mean loss."""
        self._refresh()
        if self._train_fn is None:
            self._train_fn = tf.function(self._train_step, reduce_retracing=True)
        return self._train_fn(batch)

    def evaluate(self, dataset):
        """Runs the evaluation step over a distributed dataset."""
        self._refresh()
        if self._eval_fn is None:
            self._eval_fn = tf.function(self._eval_step, reduce_retracing=True)
        for batch in dataset:
            self._eval_fn(batch)

    def gather(self, values):
        """Every replica's `values` (a 1-D NumPy array) as rows of a matrix."""
        return self._collective("gather", values)

    def sum(self, values):
        """The sum over replicas of `values` (a 1-D NumPy array).

        One all-reduce, where `gather` needs two (shapes, then values).
        """
        return self._collective("sum", values)

    def _collective(self, kind, values):
        key = (kind, values.dtype.name, len(values))
        if key not in self._collective_fns:
            self._collective_fns[key] = tf.function(
                lambda v: self._run_collective(kind, v)
            )
        return self._collective_fns[key](tf.constant(values)).numpy()

    def _run_collective(self, kind, values):
        def collect(value):
            ctx = tf.distribute.get_replica_context()
            if kind == "sum":
                # An identity places the value on the replica's device: the
                # all-reduce reduces to the device of its input.
                return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(value))
            return ctx.all_gather(value[None], axis=0)

        result = self.strategy.run(collect, args=(values,))
        return self.strategy.experimental_local_results(result)[0]

    def broadcast(self, variables):
        """Assigns replica 0's values of `variables` on every replica."""
        if not variables:
            return

        @tf.function
        def run():
            def first_values():
                ctx = tf.distribute.get_replica_context()
                first = tf.equal(ctx.replica_id_in_sync_group, 0)
                return ctx.all_reduce(
                    tf.distribute.ReduceOp.SUM,
                    [tf.where(first, v.value, tf.zeros_like(v.value)) for v in variables],
                )

            return self.strategy.run(first_values)

        for variable, value in zip(variables, run()):
            variable.assign(self.strategy.experimental_local_results(value)[0])

    def reset(self):
        for metric in self.train_metrics + self.val_metrics:
            metric.reset_state()

    def results(self, which="train"):
        """`{name: float}` of the train or validation metrics (global)."""
        if which not in self._results_fns:
            metrics = self.train_metrics if which == "train" else self.val_metrics
            self._results_fns[which] = tf.function(
                lambda: {m.name: m.result() for m in metrics}
            )
        return {k: float(v) for k, v in self._results_fns[which]().items()}

    def _train_step(self, batch):
        self.traces["train"] += 1
        model, strategy = self.model, self.strategy
        optimizer = model.optimizer
        trainable = list(model.trainable_variables)
        replicas = strategy.num_replicas_in_sync

        def step(batch):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
                )
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, trainable)
            optimizer.apply_gradients(zip(grads, trainable))
            self._update(self.train_metrics, x, y, y_pred, sample_weight, loss * replicas)
            return loss

        per_replica = strategy.run(step, args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def _eval_step(self, batch):
        self.traces["eval"] += 1
        model, strategy = self.model, self.strategy
        replicas = strategy.num_replicas_in_sync

        def step(batch):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
            y_pred = model(x, training=False)
            loss = model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
            )
            self._update(self.val_metrics, x, y, y_pred, sample_weight, loss * replicas)

        strategy.run(step, args=(batch,))

    @staticmethod
    def _update(metrics, x, y, y_pred, sample_weight, loss):
        rows = tf.shape(tf.nest.flatten(x)[0])[0]
        # An empty per-replica batch (the end of an uneven epoch) has a NaN
        # mean loss; it must count with weight 0, not poison the mean.
        loss = tf.where(rows > 0, loss, tf.zeros_like(loss))
        metrics[0].update_state(loss, sample_weight=rows)
        for metric in metrics[1:]:
            metric.update_state(y, y_pred, sample_weight=sample_weight)


def compiled_metrics(model):
    """Fresh copies of `model`'s compiled metrics (single-output models).

    Read from `model.get_compile_config()`, so they are created in the
    caller's strategy scope. `"accuracy"`/`"acc"` become `BinaryAccuracy`
    (a DimGrow model predicts one probability).
    """
    config = model.get_compile_config() or {}
    entries = config.get("metrics") or []
    if isinstance(entries, dict):
        raise NotImplementedError(
            "distributed_fit supports single-output models with a list of "
            f"metrics. Received metrics={entries!r}"
        )
    metrics = []
    for entry in entries:
        if isinstance(entry, str) and entry in ("accuracy", "acc"):
            metrics.append(keras.metrics.BinaryAccuracy(name=entry))
        elif isinstance(entry, str):
            metric = keras.metrics.get(entry)
            if isinstance(metric, type):
                metric = metric()
            elif not isinstance(metric, keras.metrics.Metric) and callable(metric):
                metric = keras.metrics.MeanMetricWrapper(metric, name=entry)
            metrics.append(metric)
        else:
            metrics.append(keras.saving.deserialize_keras_object(entry))
    for metric in metrics:
        if not isinstance(metric, keras.metrics.Metric):
            raise NotImplementedError(
                "distributed_fit supports `keras.metrics.Metric` objects and "
                f"their names in `compile(metrics=...)`. Received: {metric!r}"
            )
    return metrics
