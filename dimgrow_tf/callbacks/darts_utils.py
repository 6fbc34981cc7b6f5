"""First-order DARTS gate updates on held-out batches."""

import keras
import tensorflow as tf

from dimgrow_tf.resize.model_resize import strategy_scope


class GateStep:
    """Steps the gate logits on one batch of `data` per call of `run()`.

    The loss is the model's compiled loss plus its layer losses (the gate
    regulariser), computed in training mode; only the gate logits move.
    After a resize (whose `apply_resize` carried the gate optimizer's
    slots), `reset()` drops the traced step.
    """

    def __init__(self, model, layer, data, optimizer=None):
        self.model = model
        self.layer = layer
        self._iterator = iter(data.repeat())
        with strategy_scope(model):
            self.optimizer = optimizer or keras.optimizers.Adam(1e-3)
        self._fn = None

    def _gates(self):
        return [self.layer.field_variables(f.name)["gate_logits"]
                for f in self.layer.fields if f.dim > 0]

    def reset(self):
        self._fn = None

    def _trace(self):
        gates = self._gates()
        if not self.optimizer.built:
            with strategy_scope(self.model):
                self.optimizer.build(gates)
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
        if self._fn is None:
            self._fn = self._trace()
        return self._fn(next(self._iterator))
