"""Checks that every worker holds the same widths, and keeps grown columns equal."""

import numpy as np

from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding

MESSAGE = "DimGrow: workers disagree on"


class WidthAgreement:
    """Verifies before every step that all workers took the same resizes.

    Each worker decides its resizes from its own copy of the gates. The
    gates are mirrored variables updated with the same all-reduced
    gradients, so the decisions agree; this makes sure of it. Before each
    training step (after `on_train_batch_begin`, so after every callback
    that could resize) and once after an epoch's last step, the workers
    compare `[epoch, step, optimizer updates, widths..., resize counts...]`
    (one all-reduce of the values and their squares) and raise
    `RuntimeError` on any difference, before a step could all-reduce
    tensors of different shapes.

    A grown column is drawn from a random initializer in each process. When
    a field grew, its variables are then broadcast from the first replica,
    so the new columns are equal everywhere even if the processes' random
    states had drifted apart (e.g. by chief-only code drawing seeds).

    At an epoch end `check_values` also all-gathers a checksum of every
    model and optimizer variable and raises if any worker's differs.
    """

    def __init__(self, model, steps, enabled=True):
        self.model = model
        self.steps = steps
        self.enabled = enabled
        self.layers = dimgrow_layers(model)
        self.broadcasts = 0
        self.replicas = steps.strategy.num_replicas_in_sync
        self._dims = self._widths()

    def _widths(self):
        return [dict(layer.dims) for layer in self.layers]

    def fingerprint(self, epoch, index):
        """`[epoch, step in epoch, optimizer updates, widths..., resizes...]`."""
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)
        values = [epoch, index, int(optimizer.iterations.numpy())]
        for layer in self.layers:
            values.extend(f.dim for f in layer.fields)
            values.append(layer.resize_count)
        return np.asarray(values, np.int64)

    def sync(self, epoch, index):
        """Verifies the widths, then equalises the fields that grew since."""
        if not self.enabled or not self.layers:
            return
        values = self.fingerprint(epoch, index)
        if not self._same(values):
            self._verify(values, "(epoch, step, iterations, widths)")
        dims = self._widths()
        grown = [
            variable
            for layer, before, after in zip(self.layers, self._dims, dims)
            for name in layer.dims
            if after[name] > before[name]
            for variable in layer.field_variables(name).values()
        ]
        self._dims = dims
        if grown:
            self.steps.broadcast(grown)
            self.broadcasts += 1

    def reset(self):
        """Takes the current widths as agreed (after a checkpoint restore)."""
        self._dims = self._widths()

    def check_values(self, epoch):
        """Raises if any model or optimizer variable differs between workers."""
        if not self.enabled:
            return
        variables = list(self.model.weights) + list(self.model.optimizer.variables)
        sums = [float(np.sum(np.asarray(v, np.float64))) for v in variables]
        self._verify(np.asarray([float(epoch)] + sums), "variable checksums", variables)

    def _same(self, values):
        """True when every replica holds `values`, from one all-reduce.

        With n replicas, n * sum(x^2) == (sum x)^2 holds for every entry
        exactly when all replicas agree. Entries are taken modulo 2^20, so
        the float64 sums (a float all-reduce) are exact integers for up to
        128 replicas, and the comparison is made in int64.
        """
        values = np.mod(values, 1 << 20).astype(np.int64)
        both = np.concatenate([values, values * values]).astype(np.float64)
        sums = np.rint(self.steps.sum(both)).astype(np.int64)
        total, squares = sums[: len(values)], sums[len(values):]
        return np.array_equal(total * total, self.replicas * squares)

    def _verify(self, values, what, variables=None):
        rows = self.steps.gather(values)
        if all(np.array_equal(row, rows[0], equal_nan=True) for row in rows[1:]):
            return
        detail = rows.tolist()
        if variables is not None:
            differ = ~np.all(np.isclose(rows, rows[0], rtol=0, atol=0, equal_nan=True), axis=0)[1:]
            detail = [v.path for v, d in zip(variables, differ) if d]
        raise RuntimeError(f"{MESSAGE} {what}: {detail}")


def dimgrow_layers(model):
    """Every `DimGrowEmbedding` in `model` (walking nested models)."""
    found, queue, seen = [], list(getattr(model, "layers", [])), set()
    while queue:
        layer = queue.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, DimGrowEmbedding):
            found.append(layer)
        queue.extend(getattr(layer, "layers", None) or [])
    return found
