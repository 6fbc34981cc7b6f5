"""The Keras callback that runs a DimGrow search inside `model.fit`."""

import time
import warnings

import keras
import numpy as np

from dimgrow_tf.callbacks.darts_utils import GateStep
from dimgrow_tf.callbacks.growth_rule import GrowthRule
from dimgrow_tf.models.search_result import SearchResult
from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.callbacks.callback_utils import disable_xla
from dimgrow_tf.callbacks.callback_utils import refuse_weight_restoring_callbacks
from dimgrow_tf.resize.model_resize import apply_resize
from dimgrow_tf.resize.model_resize import follow_resize
from dimgrow_tf.resize.model_resize import prepare_resizing
from dimgrow_tf.resize.model_resize import reset_compiled_functions


class DimGrowCallback(keras.callbacks.Callback):
    """Grows and shrinks a `DimGrowEmbedding` during `model.fit`.

    Every `check_every` training steps (optimizer updates, counted from
    `optimizer.iterations`, so `steps_per_execution` does not change the
    cadence; a check runs at the first callback call at or after each
    multiple) the callback reads the gates and
    applies `GrowthRule` (grow a field by one column when all its gates
    exceed `high`; drop collapsed columns when a gate falls below `low`).
    A resize assigns values of the new width to the same variables and to
    their optimizer slots (values carried), so the traced train, test and
    predict functions stay valid: a whole search traces them once. The
    search model runs without XLA (`jit_compile=False`), which needs static
    shapes; the callback switches it off, with a warning, if it was on.

    At each epoch end it writes `dim_<field>`, `total_dims` and
    `embedding_bytes` into `logs` (so History, CSVLogger and TensorBoard
    placed *after* it see them) and keeps a snapshot of the gates at the
    best `monitor` value; `result()` reads the final dims from it (gates >
    0.5 per field, 0 = dropped).

    `history` lists every resize event; `resize_seconds` holds the wall
    time of each check that resized (not saved).

    With `gate_data` (e.g. the validation set), gates are trained DARTS
    style: excluded from the model's optimizer and stepped by
    `gate_optimizer` on one `gate_data` batch after every training step.

    `EarlyStopping(restore_best_weights=True)` in the same `fit` raises a
    ValueError when training starts: the weights it stores have the shapes
    of an earlier width. Use `EarlyStopping(patience=...)` and `result()`,
    which already uses the best epoch's gates.

    Args:
        layer: the `DimGrowEmbedding` inside the fitted model.
        max_dim: int. Width cap (a FieldConfig's `max_dim` overrides it).
            Defaults to `16`.
        low: float. Shrink threshold. Defaults to `0.01`.
        high: float. Grow threshold. Defaults to `0.6`.
        budget: int. Cap on the total width. Defaults to `1000`.
        window: int. Consecutive checks a condition must hold (the
            consistency window; 2 was best in our Frappe runs, see README).
            Defaults to `2`.
        check_every: int. Training steps between checks. Defaults to `50`.
        monitor: str. Metric picking the best epoch. Defaults to
            `"val_auc"`; if missing, a warning lists the available keys and
            the last epoch is used.
        mode: str. `"max"`, `"min"` or `"auto"` (max for names holding
            "auc" or "acc"). Defaults to `"auto"`.
        gate_data: optional `tf.data.Dataset` of `(x, y)` batches for DARTS
            gate updates. Defaults to `None` (gates train with the model).
        gate_optimizer: optimizer for DARTS updates. Defaults to Adam 1e-3.
        grow_initializer: initializer of grown columns. Defaults to
            `RandomNormal(stddev=0.01)`.
        verbose: int. 1 prints each resize. Defaults to `0`.

    Example:

    ```python
    search = dimgrow_tf.DimGrowCallback(emb, max_dim=16)
    model.fit(train_ds, validation_data=valid_ds, epochs=20, callbacks=[search])
    result = search.result()     # SearchResult; result.dims
    ```
    """

    def __init__(
        self,
        layer,
        max_dim=16,
        low=0.01,
        high=0.6,
        budget=1000,
        window=2,
        check_every=50,
        monitor="val_auc",
        mode="auto",
        gate_data=None,
        gate_optimizer=None,
        grow_initializer=None,
        verbose=0,
    ):
        super().__init__()
        if not hasattr(layer, "resize") or not hasattr(layer, "gate_values"):
            raise TypeError(
                f"`layer` must be a DimGrowEmbedding. Received: {layer!r}"
            )
        self.layer = layer
        self.rule = GrowthRule(
            low=low, high=high, max_dim=max_dim, budget=budget, window=window
        )
        if isinstance(check_every, bool) or not isinstance(check_every, int):
            raise ValueError(
                f"`check_every` must be a positive integer. Received: {check_every!r}"
            )
        if check_every < 1:
            raise ValueError(f"`check_every` must be >= 1. Received: {check_every}")
        if mode not in ("auto", "max", "min"):
            raise ValueError(
                f"`mode` must be 'auto', 'max' or 'min'. Received: {mode!r}"
            )
        self.check_every = check_every
        self.monitor = monitor
        self.mode = mode
        self.gate_data = gate_data
        self.gate_optimizer = gate_optimizer
        self.grow_initializer = grow_initializer
        self.verbose = verbose
        self.history = []
        self.resize_seconds = []
        self.step = 0
        self._seen_iterations = None
        self.streaks = {}
        self._best = None
        self._warned_monitor = False
        self._gate_step = None

    @property
    def _maximize(self):
        if self.mode != "auto":
            return self.mode == "max"
        return any(k in self.monitor for k in ("auc", "acc"))

    def set_model(self, model):
        super().set_model(model)
        hooks = self.layer.hooks
        hooks.on_resize = self._after_load_resize
        hooks.state_provider = self.get_state
        hooks.state_consumer = self.set_state

    def _after_load_resize(self, remaps):
        follow_resize(self.model, remaps, self._extra_optimizers())

    def _extra_optimizers(self):
        return [self._gate_step.optimizer] if self._gate_step is not None else []

    def get_state(self):
        """JSON-able search state (saved with the layer's weights)."""
        best = None
        if self._best is not None:
            best = dict(self._best)
            best["fields"] = [f.get_config() for f in best["fields"]]
        return {
            "step": self.step,
            "streaks": {k: list(v) for k, v in self.streaks.items()},
            "history": self.history,
            "best": best,
        }

    def set_state(self, state):
        """Restores `get_state()` output (e.g. when a checkpoint is loaded)."""
        self.step = int(state["step"])
        self.streaks = {k: tuple(v) for k, v in state["streaks"].items()}
        self.history = list(state["history"])
        best = state.get("best")
        if best is not None:
            best = dict(best)
            best["fields"] = [FieldConfig.from_config(f) for f in best["fields"]]
        self._best = best

    def on_train_begin(self, logs=None):
        refuse_weight_restoring_callbacks(self)
        self.layer.build()
        reset = disable_xla(self.model)
        if self.gate_data is not None:
            self.layer.set_gates_trainable(False)
            self._gate_step = GateStep(
                self.model, self.layer, self.gate_data, self.gate_optimizer
            )
            reset = True
        if reset:
            reset_compiled_functions(self.model)
        prepare_resizing(self.model, self.layer, self._extra_optimizers())

    def on_train_end(self, logs=None):
        if self._gate_step is not None:
            self.gate_optimizer = self._gate_step.optimizer
            self._gate_step = None
            self.layer.set_gates_trainable(True)
            reset_compiled_functions(self.model)
        if self._best is None:
            self._snapshot(epoch=None, value=None)

    def on_train_batch_begin(self, batch, logs=None):
        # Read here, not in on_train_begin: BackupAndRestore may restore
        # `iterations` after this callback's on_train_begin.
        self._seen_iterations = self._optimizer_steps()

    def on_train_batch_end(self, batch, logs=None):
        # Keras calls this once per `steps_per_execution` steps: count the
        # optimizer's updates instead of the calls.
        now = self._optimizer_steps()
        if now is None or self._seen_iterations is None:
            done = 1  # called outside `fit` (no optimizer count to compare)
        else:
            done = now - self._seen_iterations
        self._seen_iterations = now
        if done <= 0:
            return
        before = self.step
        self.step += done
        if self._gate_step is not None:
            for _ in range(done):
                self._gate_step.run()
        if self.step // self.check_every > before // self.check_every:
            self.check(epoch=getattr(self, "_epoch", None))

    def _optimizer_steps(self):
        """Updates applied by the model's optimizer so far (None if none)."""
        optimizer = getattr(self.model, "optimizer", None)
        # A LossScaleOptimizer's own `iterations` does not count on Keras
        # 3.8; its inner optimizer's does (3.15 forwards to it).
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        if optimizer is None or getattr(optimizer, "iterations", None) is None:
            return None
        return int(keras.ops.convert_to_numpy(optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def check(self, epoch=None):
        """Applies the growth rule once; returns the plan it applied."""
        gates = self.layer.gate_values()
        plan, self.streaks = self.rule.decide(self.layer.fields, gates, self.streaks)
        if not plan:
            return plan
        before = self.layer.dims
        start = time.perf_counter()
        apply_resize(
            self.model, self.layer, plan, initializer=self.grow_initializer,
            extra_optimizers=self._extra_optimizers(),
        )
        self.resize_seconds.append(time.perf_counter() - start)
        for name in (f.name for f in self.layer.fields if f.name in plan):
            change = plan[name]
            dropped = [k for k in range(before[name]) if k not in change.keep]
            event = {
                "step": self.step,
                "epoch": epoch,
                "field": name,
                "action": "grow" if change.grow else "shrink",
                "from": before[name],
                "to": change.new_width,
                "dropped": dropped,
                "gates": [round(float(x), 4) for x in gates[name]],
            }
            self.history.append(event)
            if self.verbose:
                print(
                    f"\nStep {self.step}: DimGrow {event['action']} "
                    f"{name} {event['from']} -> {event['to']}",
                    flush=True,
                )
        return plan

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        dims = self.layer.dims
        for name, d in dims.items():
            logs[f"dim_{name}"] = d
        logs["total_dims"] = sum(dims.values())
        logs["embedding_bytes"] = self.layer.embedding_bytes()
        value = logs.get(self.monitor)
        if value is None:
            if not self._warned_monitor:
                warnings.warn(
                    f"DimGrowCallback: monitor {self.monitor!r} is not in the "
                    f"logs (available: {sorted(logs)}); the final dims will be "
                    "read from the last epoch.",
                    stacklevel=2,
                )
                self._warned_monitor = True
            # An epoch without the monitor (e.g. `validation_freq > 1`)
            # never replaces a snapshot that has a monitor value.
            if self._best is None or self._best["value"] is None:
                self._snapshot(epoch, None)
            return
        value = float(value)
        if (
            self._best is None
            or self._best["value"] is None
            or (value > self._best["value"] if self._maximize else value < self._best["value"])
        ):
            self._snapshot(epoch, value)

    def _snapshot(self, epoch, value):
        self._best = {
            "epoch": epoch,
            "value": value,
            "fields": self.layer.fields,
            "gates": {k: np.asarray(v).tolist() for k, v in self.layer.gate_values().items()},
        }

    def result(self):
        """The `SearchResult`: final dims from the best epoch's gates."""
        if self._best is None:
            self._snapshot(None, None)
        best = self._best
        return SearchResult.from_gates(
            best["fields"],
            best["gates"],
            history=list(self.history),
            best_epoch=best["epoch"],
            monitor=self.monitor if best["value"] is not None else None,
            best_value=best["value"],
        )

    def get_config(self):
        config = self.rule.get_config()
        config.update(
            check_every=self.check_every,
            monitor=self.monitor,
            mode=self.mode,
            grow_initializer=keras.initializers.serialize(
                keras.initializers.get(self.grow_initializer)
            )
            if self.grow_initializer is not None
            else None,
            verbose=self.verbose,
        )
        return config

    @classmethod
    def from_config(cls, config, layer, gate_data=None, gate_optimizer=None):
        config = dict(config)
        if config.get("grow_initializer") is not None:
            config["grow_initializer"] = keras.initializers.deserialize(
                config["grow_initializer"]
            )
        return cls(layer, gate_data=gate_data, gate_optimizer=gate_optimizer, **config)

