"""Plain fixed-width field embeddings for retraining at searched dims."""

import tensorflow as tf

from dimgrow_tf.backend_compat import keras
from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.field_config import check_unique_fields
from dimgrow_tf.layers.backbone_utils import FIELDS
from dimgrow_tf.layers.backbone_utils import OUTPUT_MODES
from dimgrow_tf.layers.fixed_field_embedding_utils import FieldwiseProjection
from dimgrow_tf.layers.fixed_field_embedding_utils import RowGatherEmbedding
from dimgrow_tf.layers.input_utils import lookup_ids
from dimgrow_tf.layers.input_utils import out_of_range_counter
from dimgrow_tf.layers.input_utils import split_field_inputs


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class FixedFieldEmbedding(keras.layers.Layer):
    """One `keras.layers.Embedding` per field at a fixed width, then a
    projection `Dense(output_dim, use_bias=False)` of their concatenation.

    This is the retraining model of DimGrow (no gates, no shuffle): tables
    `V_f x d_f*`, `Linear(sum d* -> output_dim)`. Fields with `dim=0` own
    nothing and need no key in a dict of inputs. With
    `output_mode="fields"` each kept field is projected on its own (its rows
    of the same kernel) and the output is `(batch, kept fields,
    output_dim)`, for heads such as `DeepFM` that need one vector per field;
    with a bias, a field at `dim=0` keeps its place too and its vector is
    its bias row (how an export folds a dropped field of a searched model:
    its mean vector becomes a constant).

    Args:
        fields: list of `FieldConfig`; `dim` is each field's fixed width.
        output_dim: int. Width of the projected output. Defaults to `64`.
        use_bias: bool. Whether the projection has a bias (an export folded
            from a searched model needs one). Defaults to `False`.
        count_out_of_range: bool. Keep the `out_of_range_ids` metric (the
            exporter turns it off: a serving graph updates no metric).
            Defaults to `True`.
        output_mode: str. `"sum"` (one projected vector) or `"fields"` (one
            per kept field; a bias is then one row per field). Defaults to
            `"sum"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Ids outside `[0, vocab_size)` are read as row 0 (the loader's OOV id),
    with or without XLA, and counted by the `out_of_range_ids` metric.
    Multi-valent fields (`FieldConfig.combiner`) take ragged or padded id
    lists (padding `PAD_ID` = -1) and combine their rows.

    Example:

    ```python
    emb = dimgrow_tf.FixedFieldEmbedding(result.fields, output_dim=64)
    ```
    """

    def __init__(
        self, fields, output_dim=64, use_bias=False, count_out_of_range=True,
        output_mode="sum", **kwargs
    ):
        super().__init__(**kwargs)
        fields = [
            f if isinstance(f, FieldConfig) else FieldConfig.from_config(f)
            for f in fields
        ]
        check_unique_fields(fields)
        if not any(f.dim > 0 for f in fields):
            raise ValueError("Every field has dim 0: nothing to embed.")
        self.fields = fields
        self.output_dim = int(output_dim)
        self.use_bias = bool(use_bias)
        self.count_out_of_range = bool(count_out_of_range)
        self.out_of_range_ids = out_of_range_counter() if count_out_of_range else None
        self.embeddings = {
            f.name: RowGatherEmbedding(
                f,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
                name=f"{f.name}_embedding",
            )
            for f in self.input_fields
        }
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"`output_mode` must be one of {OUTPUT_MODES}. "
                f"Received: output_mode={output_mode!r}"
            )
        self.output_mode = output_mode
        if output_mode == FIELDS:
            self.projection = FieldwiseProjection(
                [f.dim for f in self.slot_fields], self.output_dim,
                use_bias=self.use_bias, name="projection")
        else:
            self.projection = keras.layers.Dense(
                self.output_dim, use_bias=self.use_bias, name="projection"
            )

    @property
    def input_fields(self):
        """The fields with a table (`dim > 0`): the ones that take ids."""
        return [f for f in self.fields if f.dim > 0]

    @property
    def slot_fields(self):
        """`"fields"` mode: the fields that get an output vector, in order."""
        if self.output_mode == FIELDS and self.use_bias:
            return list(self.fields)
        return self.input_fields

    @property
    def dims(self):
        return {f.name: f.dim for f in self.fields}

    def embedding_bytes(self):
        return sum(4 * f.vocab_size * f.dim for f in self.fields)

    def build(self, input_shape=None):
        for f in self.input_fields:
            self.embeddings[f.name].build((None,))
        self.projection.build((None, sum(f.dim for f in self.fields)))
        self.built = True

    def call(self, inputs):
        active = self.input_fields
        wanted = active if isinstance(inputs, dict) else self.fields
        ids = lookup_ids(split_field_inputs(inputs, wanted), active, self.out_of_range_ids)
        columns = [self.embeddings[f.name](ids[f.name]) for f in active]
        return self.projection(tf.concat(columns, axis=1))

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, dict):
            batch = next(iter(input_shape.values()))[0]
        else:
            batch = input_shape[0]
        if self.output_mode == FIELDS:
            return (batch, len(self.slot_fields), self.output_dim)
        return (batch, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            fields=[f.get_config() for f in self.fields],
            output_dim=self.output_dim,
            use_bias=self.use_bias,
            count_out_of_range=self.count_out_of_range,
            output_mode=self.output_mode,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["fields"] = [FieldConfig.from_config(f) for f in config["fields"]]
        return cls(**config)
