"""Variable-width field embeddings with per-dimension ShuffleGates."""

import tensorflow as tf

from dimgrow_tf import backend_compat
from dimgrow_tf.backend_compat import keras
from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.field_config import check_unique_fields
from dimgrow_tf.layers import shuffle_gate_utils as sg
from dimgrow_tf.layers.dimgrow_embedding_utils import KINDS
from dimgrow_tf.layers.dimgrow_embedding_utils import FieldVariables
from dimgrow_tf.layers.dimgrow_embedding_utils import LayerHooks
from dimgrow_tf.layers.dimgrow_embedding_utils import TraceCounts
from dimgrow_tf.layers.dimgrow_embedding_utils import check_layer_args
from dimgrow_tf.layers.dimgrow_embedding_utils import check_plan_entry
from dimgrow_tf.layers.dimgrow_embedding_utils import read_concat
from dimgrow_tf.layers.dimgrow_embedding_utils import read_gates
from dimgrow_tf.layers.dimgrow_embedding_utils import table_bytes
from dimgrow_tf.layers.dimgrow_embedding_utils import COLUMN_STDDEV
from dimgrow_tf.layers.dimgrow_embedding_utils import variable_specs
from dimgrow_tf.layers.input_utils import embed_field
from dimgrow_tf.layers.input_utils import lookup_ids
from dimgrow_tf.layers.input_utils import out_of_range_counter
from dimgrow_tf.layers.input_utils import split_field_inputs
from dimgrow_tf.layers.layer_state_utils import load_layer_state
from dimgrow_tf.layers.layer_state_utils import save_layer_state
from dimgrow_tf.resize.resize_utils import VariableRemap
from dimgrow_tf.resize.resize_utils import resize_variable
from dimgrow_tf.resize.resize_utils import set_storage

_MOMENTUM = 0.99


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class DimGrowEmbedding(keras.layers.Layer):
    """Per-field embeddings whose widths change during training.

    Field f owns a table `(V_f, d_f)`, a projection block `(d_f, output_dim)`
    (no bias), gate logits `theta_f (d_f,)` and a moving mean `mu_f (d_f,)`,
    all physically sized to the current width `d_f`. With `x` the
    concatenated looked-up columns `(batch, D)`, `D = sum(d_f)`, and gates
    `g = sigmoid(temperature * theta)`:

    - training: `x* = g * x + (1 - g) * stop_gradient(shuffle(x))`, where
      every column is permuted independently over the batch (ShuffleGate),
      and `mu` tracks the column means (momentum 0.99);
    - inference: `x* = g * x + (1 - g) * mu`, the expectation of the
      training mix over the shuffle. It is deterministic and affine in `x`,
      so an exporter can fold the gates into the projection.

    The output is `x* @ P` of shape `(batch, output_dim)` whatever the
    widths, so any backbone can follow. A gate regulariser is added with
    `add_loss`. Fields at width 0 are dropped: they own no variables and
    their inputs are ignored. `DimGrowCallback` resizes the layer during
    `fit`; `resize` can also be called directly.

    Inputs are a dict `{field name: int ids (batch,) or (batch, 1)}` or
    one int tensor `(batch, num_fields)` in field order. Ids outside
    `[0, vocab_size)` are read as row 0 (the loader's OOV id), as in
    serving, with or without XLA; the metric `out_of_range_ids` counts
    them (per epoch in `fit` logs and in `evaluate`).

    Args:
        fields: list of `FieldConfig`. Each `dim` is the starting width
            (1 for a DimGrow search).
        output_dim: int. Width of the projected output. Defaults to `64`.
        alpha: float. Gate regulariser strength (reference values:
            MovieLens 0.1, Avazu 0.005, Criteo 0.02). Defaults to `0.02`.
        regularizer: str. `"reference"` (`alpha * 0.1 * mean(g_k / k)`,
            the authors' code), `"l1_sum"` (`alpha * sum(g)`, the paper) or
            `"l1_mean"`. Defaults to `"reference"`.
        temperature: float. Gate temperature tau. Defaults to `5.0`.
        seed: int or None. Seed of the shuffle. Defaults to `None`.
        count_out_of_range: bool. Keep the `out_of_range_ids` metric.
            Defaults to `True`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    ```python
    fields = [dimgrow_tf.FieldConfig("user_id", 6040),
              dimgrow_tf.FieldConfig("item_id", 3706)]
    emb = dimgrow_tf.DimGrowEmbedding(fields, output_dim=64)
    y = emb({"user_id": np.array([1, 2]), "item_id": np.array([3, 4])})
    emb.dims  # {"user_id": 1, "item_id": 1}
    ```

    References:
        Huang & Chu, "DimGrow: Memory-Efficient Field-level Embedding
        Dimension Search", arXiv 2505.12683; "ShuffleGate", arXiv 2503.09315.
    """

    def __init__(
        self,
        fields,
        output_dim=64,
        alpha=0.02,
        regularizer="reference",
        temperature=5.0,
        seed=None,
        count_out_of_range=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        fields = [
            f if isinstance(f, FieldConfig) else FieldConfig.from_config(f)
            for f in fields
        ]
        check_unique_fields(fields)
        check_layer_args(output_dim, alpha, regularizer, temperature)
        self._fields = {f.name: f for f in fields}
        self.output_dim = output_dim
        self.alpha = float(alpha)
        self.regularizer = regularizer
        self.temperature = float(temperature)
        self.seed = seed
        self.seed_generator = backend_compat.SeedGenerator(seed)
        self._vars = FieldVariables()
        self.hooks = LayerHooks()
        self.gates_trainable = True
        self.resize_count = 0
        self._traces = TraceCounts()
        self._resizable_storage = None
        self.count_out_of_range = bool(count_out_of_range)
        self.out_of_range_ids = out_of_range_counter() if count_out_of_range else None

    @property
    def fields(self):
        """Current field configs, with `dim` the current width."""
        return list(self._fields.values())

    @property
    def dims(self):
        """`{field name: current width}`; 0 means the field is dropped."""
        return {name: f.dim for name, f in self._fields.items()}

    @property
    def total_dims(self):
        return sum(self.dims.values())

    def embedding_bytes(self):
        """Bytes allocated by the embedding tables, from their shapes."""
        return table_bytes(v["embeddings"] for v in self._vars.by_field.values())

    def field_variables(self, name):
        """`{kind: variable}` of field `name` (empty when dropped)."""
        return dict(self._vars.by_field.get(name, {}))

    def gate_values(self):
        """`{field name: np.ndarray of its current gate values}`."""
        logits = {n: v["gate_logits"] for n, v in self._vars.by_field.items()}
        return read_gates(logits, self.temperature)

    @property
    def trace_counts(self):
        """`{"train": n, "inference": m}`: how often TF traced `call`.

        A search resizes in place, so a `fit` traces the training call once
        (plus once per distinct input signature) however many resizes it
        makes.
        """
        return self._traces.as_dict()

    def resizable_variables(self):
        """`[(variable, axis)]`: every field variable and its width axis."""
        return [
            (variables[kind], axis)
            for variables in self._vars.by_field.values()
            for kind, (axis, _) in KINDS.items()
        ]

    @property
    def resizable_storage(self):
        """True/False once `set_resizable_storage` ran; None before."""
        return self._resizable_storage

    def set_resizable_storage(self, resizable):
        """Gives every field variable resizable (or static) storage.

        `DimGrowCallback` (through `prepare_resizing`) calls it before the
        first traced step; run it in the model's strategy scope.

        Returns:
            True when some variable's storage was replaced.
        """
        self._resizable_storage = bool(resizable)
        return set_storage(self.resizable_variables(), resizable)

    def build(self, input_shape=None):
        if self.built:
            return
        for f in self._fields.values():
            if f.dim > 0:
                self._vars.by_field[f.name] = self._make_field_variables(f, f.dim)
        self.built = True

    def _make_field_variables(self, field, width):
        specs = variable_specs(field, width, self.output_dim)
        return {
            kind: self._add_field_weight(field, kind, specs[kind][0], specs[kind][1], trainable)
            for kind, (_, trainable) in KINDS.items()
        }

    def _add_field_weight(self, field, kind, shape, initializer, trainable):
        # Read in float32 under mixed precision (no autocast): `call` gathers
        # table rows first and casts only those, and the moving mean is
        # updated in float32 (an autocast read would be bf16/fp16).
        variable = backend_compat.add_field_weight(
            self, f"{field.name}_{kind}", shape, initializer, trainable,
            axis=KINDS[kind][0],
        )
        if kind == "gate_logits" and not self.gates_trainable:
            variable.trainable = False
        return variable

    def call(self, inputs, training=None):
        ids = split_field_inputs(inputs, self.fields)
        active = [f for f in self._fields.values() if f.dim > 0]
        if not active:
            raise ValueError("Every field is dropped (width 0): nothing to embed.")
        if tf.inside_function():
            self._traces.add(training)
        ids = lookup_ids(ids, active, self.out_of_range_ids)
        # Widths come from the variables at run time, not from Python ints,
        # so a traced step stays valid after an in-place resize.
        columns, logits, projections, means, widths = [], [], [], [], []
        for f in active:
            v = self._vars.by_field[f.name]
            columns.append(embed_field(v["embeddings"], ids[f.name], f))
            logits.append(v["gate_logits"])
            projections.append(v["projection"])
            means.append(v["moving_mean"])
            widths.append(tf.shape(backend_compat.storage(v["gate_logits"]))[0])
        x = tf.cast(tf.concat(columns, axis=1), self.compute_dtype)
        gates = tf.cast(
            sg.gate_values(read_concat(logits, axis=0), self.temperature),
            self.compute_dtype,
        )
        if training:
            mixed = sg.mix(x, sg.shuffle_columns(x, self.seed_generator), gates)
            self._update_moving_means(x, active, widths)
        else:
            mean = tf.cast(read_concat(means, axis=0), self.compute_dtype)
            mixed = sg.mix(x, mean, gates)
        positions = tf.concat(
            [tf.range(1, w + 1, dtype=tf.int32) for w in widths], axis=0
        )
        self.add_loss(
            sg.gate_regularizer(
                tf.cast(gates, tf.float32),
                tf.cast(positions, tf.float32),
                self.regularizer,
                self.alpha,
            )
        )
        return self._project(mixed, projections, widths)

    def _project(self, mixed, projections, widths):
        """The output from the mixed columns: one concatenated projection."""
        kernel = tf.cast(read_concat(projections, axis=0), self.compute_dtype)
        return tf.matmul(mixed, kernel)

    def _update_moving_means(self, x, active, widths):
        batch_mean = tf.stop_gradient(tf.reduce_mean(tf.cast(x, tf.float32), axis=0))
        parts = tf.split(batch_mean, tf.stack(widths), num=len(active))
        for f, new in zip(active, parts):
            mean_var = self._vars.by_field[f.name]["moving_mean"]
            mean_var.assign(_MOMENTUM * mean_var + (1.0 - _MOMENTUM) * new)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            batch = next(iter(input_shape.values()))[0]
        else:
            batch = input_shape[0]
        return (batch, self.output_dim)

    def resize(self, plan):
        """Resizes fields in place; returns the `VariableRemap`s it made.

        Every variable of a resized field is assigned its value at the new
        width (same variable object, resizable storage, the old buffer is
        freed); surviving columns keep their values exactly. Fresh table
        columns and projection rows are drawn from N(0, 0.01), the rule
        `build` uses for every column and row too (here from the layer's
        checkpointed seed generator, so a resumed search grows the same
        values); fresh gate logits start
        at 0 (g = 0.5) and fresh moving means at 0. The optimizer's slots
        must follow: use `apply_resize`, which does it (as
        `DimGrowCallback` does).

        Args:
            plan: dict `{field name: FieldResize}`.
        """
        if not self.built:
            raise ValueError(f"Layer {self.name!r} must be built before resize.")
        # Drawn from the layer's seed generator (saved with the weights), so
        # a search resumed from a checkpoint grows the same columns.
        def init(shape):
            return backend_compat.random_normal(
                shape, COLUMN_STDDEV, self.seed_generator
            )

        remaps = []
        for name, change in plan.items():
            field = check_plan_entry(self._fields, name, change)
            if not change.is_identity(field.dim):
                remaps.extend(self._resize_field(field, change, init))
        if remaps:
            self.resize_count += 1
        return remaps

    def _resize_field(self, field, change, init):
        variables = self._vars.by_field[field.name]
        remaps = []
        for kind, (axis, _) in KINDS.items():
            variable = variables[kind]
            fill = None
            if kind in ("embeddings", "projection") and change.grow:
                shape = list(backend_compat.current_shape(variable))
                shape[axis] = change.grow
                fill = init(tuple(shape))
            rebacked = resize_variable(variable, axis, change.keep, change.grow, fill)
            del fill
            remaps.append(
                VariableRemap(variable, axis, change.keep, change.grow, rebacked)
            )
        self._fields[field.name] = field.with_dim(change.new_width)
        return remaps

    def set_gates_trainable(self, trainable):
        """Marks the gate logits (not) trainable, e.g. for DARTS updates."""
        self.gates_trainable = bool(trainable)
        for v in self._vars.by_field.values():
            v["gate_logits"].trainable = self.gates_trainable

    def save_own_variables(self, store):
        save_layer_state(self, store)

    def load_own_variables(self, store):
        load_layer_state(self, store)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "fields": [f.get_config() for f in self._fields.values()],
                "output_dim": self.output_dim,
                "alpha": self.alpha,
                "regularizer": self.regularizer,
                "temperature": self.temperature,
                "seed": self.seed,
                "count_out_of_range": self.count_out_of_range,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["fields"] = [FieldConfig.from_config(f) for f in config["fields"]]
        return cls(**config)

