"""The Keras callback that runs a DimGrow search inside `model.fit`."""

import time
import warnings

import numpy as np

from dimgrow_tf import backend_compat
from dimgrow_tf.backend_compat import keras
from dimgrow_tf.callbacks.callback_utils import check_darts_supported
from dimgrow_tf.callbacks.callback_utils import column_bytes
from dimgrow_tf.callbacks.callback_utils import disable_xla
from dimgrow_tf.callbacks.callback_utils import hold_early_stopping
from dimgrow_tf.callbacks.callback_utils import load_optimizer_state
from dimgrow_tf.callbacks.callback_utils import optimizer_state
from dimgrow_tf.callbacks.callback_utils import refuse_weight_restoring_callbacks
from dimgrow_tf.callbacks.callback_utils import warn_global_bias_correction
from dimgrow_tf.callbacks.darts_utils import GateStep
from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.models.search_result import SearchResult
from dimgrow_tf.optimizers.lazy_adam import LazyAdam
from dimgrow_tf.resize.model_resize import apply_resize
from dimgrow_tf.resize.model_resize import follow_resize
from dimgrow_tf.resize.model_resize import prepare_resizing
from dimgrow_tf.resize.model_resize import reset_compiled_functions
from dimgrow_tf.resize.model_resize import strategy_scope
from dimgrow_tf.search_config import SearchConfig


class DimGrowCallback(keras.callbacks.Callback):
    """Grows and shrinks a `DimGrowEmbedding` during `model.fit`.

    Every `config.check_every` training steps (optimizer updates, counted
    from `optimizer.iterations`, so `steps_per_execution` does not change
    the cadence) the callback reads the gates and applies the config's
    `GrowthRule` (grow a field by one column when all its gates exceed
    `high`; drop collapsed columns when a gate falls below `low`). A resize
    assigns values of the new width to the same variables and to their
    optimizer slots (values carried; with `LazyAdam` new slices get their
    own bias correction), so the traced train, test and predict functions
    stay valid: a whole search traces them once. The search model runs
    without XLA (`jit_compile=False`), which needs static shapes; the
    callback switches it off, with a warning, if it was on.

    Settling: an epoch that resized (or, with `config.settle_checks`, one
    that ends fewer than that many checks after a resize) is not settled;
    at the end of such an epoch every `keras.callbacks.EarlyStopping` beside
    it has its patience counter reset (and its stop undone), so the search
    never ends while widths are still changing. `epochs` still bounds the
    run.

    At each epoch end it writes `dim_<field>`, `total_dims`,
    `embedding_bytes` and `dimgrow_settled` into `logs` (so History,
    CSVLogger and TensorBoard placed *after* it see them) and keeps a
    snapshot of the gates at the best `config.monitor` value; `result()`
    reads the final dims from it (gates > 0.5 per field, 0 = dropped).

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
        config: `SearchConfig`. Defaults to `SearchConfig()`.
        gate_data: optional `tf.data.Dataset` of `(x, y)` batches for DARTS
            gate updates. Defaults to `None` (gates train with the model).
        gate_optimizer: optimizer for DARTS updates. Defaults to
            `LazyAdam(config.gate_learning_rate)`.
        verbose: int. 1 prints each resize. Defaults to `0`.

    Example:

    ```python
    search = dimgrow_tf.DimGrowCallback(emb, dimgrow_tf.SearchConfig(max_dim=16))
    model.fit(train_ds, validation_data=valid_ds, epochs=20, callbacks=[search])
    result = search.result()     # SearchResult; result.dims
    ```
    """

    def __init__(self, layer, config=None, gate_data=None, gate_optimizer=None, verbose=0):
        super().__init__()
        if not hasattr(layer, "resize") or not hasattr(layer, "gate_values"):
            raise TypeError(
                f"`layer` must be a DimGrowEmbedding. Received: {layer!r}"
            )
        if config is None:
            config = SearchConfig()
        elif isinstance(config, dict):
            config = SearchConfig.from_config(config)
        elif not isinstance(config, SearchConfig):
            raise TypeError(f"`config` must be a SearchConfig. Received: {config!r}")
        self.layer = layer
        self.config = config
        self.rule = config.growth_rule()
        self.gate_data = gate_data
        self.gate_optimizer = gate_optimizer
        self.verbose = verbose
        self.history = []
        self.resize_seconds = []
        self.step = 0
        self.quiet_checks = 0
        self._seen_iterations = None
        self.streaks = {}
        self._best = None
        self._warned_monitor = False
        self._gate_step = None
        self._column_bytes = None
        self._pending_optimizer_state = None

    @property
    def check_every(self):
        return self.config.check_every

    @property
    def monitor(self):
        return self.config.monitor

    @property
    def settled(self):
        """True once `config.settle_checks` checks in a row made no resize
        (`None`: once the current epoch made none)."""
        if self.config.settle_checks is None:
            # Events are appended in step order: only the last can be this epoch's.
            if not self.history:
                return True
            return self.history[-1]["epoch"] != getattr(self, "_epoch", None)
        return self.quiet_checks >= self.config.settle_checks

    def set_model(self, model):
        super().set_model(model)
        hooks = self.layer.hooks
        hooks.on_resize = self._after_load_resize
        hooks.state_provider = self.get_state
        hooks.state_consumer = self.set_state

    def _after_load_resize(self, remaps):
        follow_resize(self.model, remaps, self._gate_optimizers())

    def _extra_optimizers(self):
        return [self._gate_step.optimizer] if self._gate_step is not None else []

    def _gate_optimizers(self):
        """The DARTS gate optimizer, also after `fit` ended (saving, loading)."""
        if self._gate_step is None and self.gate_data is not None and self.gate_optimizer:
            return [self.gate_optimizer]
        return self._extra_optimizers()

    def get_state(self):
        """JSON-able search state (saved with the layer's weights)."""
        best = None
        if self._best is not None:
            best = dict(self._best)
            best["fields"] = [f.get_config() for f in best["fields"]]
        return {
            "step": self.step,
            "quiet_checks": self.quiet_checks,
            "streaks": {k: list(v) for k, v in self.streaks.items()},
            "history": self.history,
            "best": best,
            **optimizer_state(self.model, self._gate_optimizers()),
        }

    def set_state(self, state):
        """Restores `get_state()` output (e.g. when a checkpoint is loaded)."""
        self.step = int(state["step"])
        self.quiet_checks = int(state.get("quiet_checks", 0))
        self.streaks = {k: tuple(v) for k, v in state["streaks"].items()}
        self.history = list(state["history"])
        best = state.get("best")
        if best is not None:
            best = dict(best)
            best["fields"] = [FieldConfig.from_config(f) for f in best["fields"]]
        self._best = best
        self._pending_optimizer_state = {
            k: state.get(k) for k in ("slice_steps", "gate_optimizer")
        }
        self._restore_optimizer_state()

    def _restore_optimizer_state(self):
        if self._pending_optimizer_state is not None and self.model is not None:
            self._pending_optimizer_state = load_optimizer_state(
                self.model, self._gate_optimizers(), self._pending_optimizer_state
            )

    def on_train_begin(self, logs=None):
        refuse_weight_restoring_callbacks(self)
        self.layer.build()
        reset = disable_xla(self.model)
        if self.gate_data is not None:
            check_darts_supported()
            self.layer.set_gates_trainable(False)
            with strategy_scope(self.model):  # the default optimizer's variables
                optimizer = self.gate_optimizer or LazyAdam(self.config.gate_learning_rate)
            self._gate_step = GateStep(self.model, self.layer, self.gate_data, optimizer)
            self._gate_step.prepare()
            reset = True
        if reset:
            reset_compiled_functions(self.model)
        prepare_resizing(self.model, self.layer, self._extra_optimizers())
        warn_global_bias_correction(getattr(self.model, "optimizer", None))
        self._restore_optimizer_state()
        if self.config.budget_bytes is not None:
            self._column_bytes = column_bytes(
                self.layer, [self.model.optimizer, *self._extra_optimizers()]
            )

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
        return int(backend_compat.to_numpy(optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def check(self, epoch=None):
        """Applies the growth rule once; returns the plan it applied."""
        gates = self.layer.gate_values()
        plan, self.streaks = self.rule.decide(
            self.layer.fields, gates, self.streaks, self._column_bytes
        )
        if not plan:
            self.quiet_checks += 1
            return plan
        self.quiet_checks = 0
        before = self.layer.dims
        start = time.perf_counter()
        apply_resize(
            self.model, self.layer, plan, extra_optimizers=self._extra_optimizers()
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
        logs["dimgrow_settled"] = float(self.settled)
        if not self.settled:
            hold_early_stopping(self, epoch)
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
            or (value > self._best["value"] if self.config.maximize else value < self._best["value"])
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
        """The `SearchResult`: final dims from the best epoch's gates
        (`SearchConfig.final_dims`)."""
        if self._best is None:
            self._snapshot(None, None)
        best = self._best
        return SearchResult.from_gates(
            best["fields"],
            best["gates"],
            final_dims=self.config.final_dims,
            history=list(self.history),
            best_epoch=best["epoch"],
            monitor=self.monitor if best["value"] is not None else None,
            best_value=best["value"],
        )

    def get_config(self):
        return {"config": self.config.get_config(), "verbose": self.verbose}

    @classmethod
    def from_config(cls, config, layer, gate_data=None, gate_optimizer=None):
        config = dict(config)
        search = SearchConfig.from_config(config.pop("config", {}))
        return cls(layer, search, gate_data=gate_data, gate_optimizer=gate_optimizer, **config)
