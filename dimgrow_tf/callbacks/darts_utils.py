"""First-order DARTS gate updates on held-out batches."""

import tensorflow as tf

from dimgrow_tf.backend_compat import keras
from dimgrow_tf.optimizers.lazy_adam import LazyAdam
from dimgrow_tf.resize.model_resize import strategy_scope
from dimgrow_tf.resize.optimizer_state import set_optimizer_storage
from dimgrow_tf.resize.resize_utils import is_resizable


class GateStep:
    """Steps the gate logits on one batch of `data` per call of `run()`.

    The loss is the model's compiled loss plus its layer losses (the gate
    regulariser), computed in training mode; only the gate logits move.
    The gates and the gate optimizer's slots have resizable storage, so
    the traced step survives resizes (`apply_resize` resizes the slots);
    it retraces only if some storage was re-created.
    """

    def __init__(self, model, layer, data, optimizer=None):
        self.model = model
        self.layer = layer
        self._iterator = iter(data.repeat())
        with strategy_scope(model):
            self.optimizer = optimizer or LazyAdam(1e-3)
        self._fn = None
        self._storage = None

    def _gates(self):
        return [self.layer.field_variables(f.name)["gate_logits"]
                for f in self.layer.fields if f.dim > 0]

    def _current_storage(self):
        return [v.value for v in self._gates() + self.optimizer.variables]

    def prepare(self):
        """Builds the gate optimizer and matches its slots' storage to the gates'."""
        gates = self._gates()
        with strategy_scope(self.model):
            if not self.optimizer.built:
                self.optimizer.build(gates)
            set_optimizer_storage(
                self.optimizer,
                [(g, 0) for g in gates],
                resizable=is_resizable(gates[0], 0),
            )
        return gates

    def _trace(self):
        gates = self.prepare()
        model, optimizer = self.model, self.optimizer

        @tf.function
        def step(batch):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
            with tf.GradientTape() as tape:
                for g in gates:
                    tape.watch(g.value)
                y_pred = model(x, training=True)
                loss = model.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sample_weight
                )
            grads = tape.gradient(loss, [g.value for g in gates])
            optimizer.apply(grads, gates)
            return loss

        return step

    def run(self):
        storage = self._current_storage() if self._fn is not None else None
        if self._fn is None or any(a is not b for a, b in zip(storage, self._storage)):
            self._fn = self._trace()
            self._storage = self._current_storage()
        return self._fn(next(self._iterator))
