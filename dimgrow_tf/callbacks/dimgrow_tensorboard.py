"""TensorBoard scalars of a DimGrow search: widths, gates, table memory."""

import keras
import tensorflow as tf


class DimGrowTensorBoard(keras.callbacks.Callback):
    """Writes every field's width and gate values to TensorBoard.

    Every `every` training steps (and at each epoch end) it writes, at the
    global step: `dims/<field>`, `gates/<field>/<k>` for each active
    column k, `total_dims` and `embedding_mib` (allocated table memory).
    Place it after `DimGrowCallback` so it sees the widths a check just set.
    Keras's own `keras.callbacks.TensorBoard` placed after `DimGrowCallback`
    additionally gets the epoch-level `dim_<field>` logs.

    Args:
        layer: the `DimGrowEmbedding` being searched.
        log_dir: str. Event file directory (e.g. `logs/dimgrow`).
        every: int. Steps between writes. Defaults to `50`.

    Example:

    ```python
    model.fit(ds, callbacks=[search, dimgrow_tf.DimGrowTensorBoard(emb, "logs")])
    ```
    """

    def __init__(self, layer, log_dir, every=50):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be a positive integer. Received: {every!r}")
        try:
            import tensorboard  # noqa: F401
        except ImportError as err:
            raise ImportError(
                "DimGrowTensorBoard needs the `tensorboard` package "
                "(pip install 'dimgrow-tf[tensorboard]')."
            ) from err
        self.layer = layer
        self.log_dir = str(log_dir)
        self.every = every
        self._writer = None
        self._step = 0

    def on_train_begin(self, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        self.write(self._step)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self.write(self._step)

    def on_epoch_end(self, epoch, logs=None):
        self.write(self._step)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()

    def write(self, step):
        """Writes the current widths and gates at `step`."""
        dims = self.layer.dims
        with self._writer.as_default():
            for name, d in dims.items():
                tf.summary.scalar(f"dims/{name}", d, step=step)
            for name, gates in self.layer.gate_values().items():
                for k, g in enumerate(gates):
                    tf.summary.scalar(f"gates/{name}/{k}", float(g), step=step)
            tf.summary.scalar("total_dims", sum(dims.values()), step=step)
            tf.summary.scalar(
                "embedding_mib", self.layer.embedding_bytes() / 2**20, step=step
            )
