"""Model builders: the search model and the fixed-dims retraining model."""

from dimgrow_tf.backend_compat import keras
from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.layers.backbone_utils import FIELDS
from dimgrow_tf.layers.backbone_utils import SUM
from dimgrow_tf.layers.deep_fm import DeepFM
from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding
from dimgrow_tf.layers.fieldwise_dimgrow_embedding import FieldwiseDimGrowEmbedding
from dimgrow_tf.layers.fixed_field_embedding import FixedFieldEmbedding
from dimgrow_tf.layers.wide_deep import WideDeep
from dimgrow_tf.models.search_result import SearchResult
from dimgrow_tf.optimizers.lazy_adam import LazyAdam
from dimgrow_tf.search_config import SearchConfig

BACKBONES = ("wide_deep", "mlp", "dcn_v2", "deepfm")


def keyed_model(inputs, outputs, name):
    """A functional `keras.Model` whose dict of field inputs is matched by name.

    The model is built on the list of named `keras.Input`s, not on the dict:
    Keras (3.8 to 3.15, keras-team/keras#23258) feeds a dict-input model a
    feature dict with extra keys by sorted key position, so a dataset with
    one more column silently trains and predicts on the wrong ids. A list
    of named inputs takes each feature by its name and ignores the rest.

    Args:
        inputs: dict `{field name: keras.Input named like the field}`.
        outputs: the output tensor.
        name: str. The model's name.
    """
    return keras.Model(list(inputs.values()), outputs, name=name)


def field_inputs(fields):
    """One `keras.Input` of int32 ids per field, keyed by field name.

    Single-valued fields take `(batch,)` ids; multi-valent fields
    (`FieldConfig.combiner`) take `(batch, max_len)` padded id lists
    (`max_len=None`: any length; a `tf.RaggedTensor` also fits).
    """
    return {
        f.name: keras.Input(
            shape=(f.max_len,) if f.multivalent else (), dtype="int32", name=f.name
        )
        for f in fields
    }


def make_backbone(backbone):
    """Returns a fresh head layer: a name in `BACKBONES` or a factory.

    `"wide_deep"` (`WideDeep`), `"mlp"`, `"dcn_v2"` (`DCNv2`, on keras-rs's
    `FeatureCross`: needs the `rs` extra, Python >= 3.11) and `"deepfm"`
    (`DeepFM`, which reads one vector per field). A head's
    `embedding_output` attribute (`"sum"` by default, `"fields"`) tells the
    builders which embedding output it reads.
    """
    if backbone == "wide_deep":
        return WideDeep(name="wide_deep")
    if backbone == "dcn_v2":
        from dimgrow_tf.layers.dcn_v2 import DCNv2

        return DCNv2(name="dcn_v2")
    if backbone == "deepfm":
        return DeepFM(name="deepfm")
    if backbone == "mlp":
        return keras.Sequential(
            [
                keras.layers.Dense(32, activation="relu"),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ],
            name="mlp",
        )
    if callable(backbone) and not isinstance(backbone, keras.layers.Layer):
        return backbone()
    raise ValueError(
        f"`backbone` must be one of {BACKBONES} or a zero-argument factory "
        f"returning a Keras layer. Received: {backbone!r}"
    )


def _embedding_output(head):
    return getattr(head, "embedding_output", SUM)


def compile_model(model, learning_rate=1e-3):
    """Compiles `model` as the builders do: LazyAdam, binary cross-entropy, AUC.

    Args:
        model: a Keras model with one probability output.
        learning_rate: float. LazyAdam learning rate. Defaults to `1e-3`.
    """
    model.compile(
        optimizer=LazyAdam(learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )


def build_search_model(
    fields,
    backbone="wide_deep",
    output_dim=64,
    alpha=SearchConfig.alpha,
    seed=None,
    learning_rate=1e-3,
    **embedding_kwargs,
):
    """A compiled search model: `DimGrowEmbedding` -> backbone.

    Args:
        fields: list of FieldConfig (start widths, usually 1).
        backbone: a name in `BACKBONES` (`"wide_deep"`, `"mlp"`,
            `"dcn_v2"`, `"deepfm"`) or a factory of a Keras layer mapping
            `(batch, output_dim)` to a probability (or `(batch, fields,
            output_dim)` when the layer has `embedding_output = "fields"`;
            the embedding is then a `FieldwiseDimGrowEmbedding`). Defaults
            to `"wide_deep"`.
        output_dim: int. Projection width. Defaults to `64`.
        alpha: float. Gate regulariser strength. Defaults to `0.02`.
        seed: int or None. Shuffle seed. Defaults to `None`.
        learning_rate: float. LazyAdam learning rate. Defaults to `1e-3`.
        **embedding_kwargs: more `DimGrowEmbedding` arguments.

    Returns:
        `(model, embedding_layer)`; the model is compiled with `LazyAdam`
        (row-sparse table updates, per-slice bias correction of grown
        columns, Keras's Adam for dense gradients), binary cross-entropy
        and an `auc` metric.
    """
    inputs = field_inputs(fields)
    head = make_backbone(backbone)
    layer = FieldwiseDimGrowEmbedding if _embedding_output(head) == FIELDS \
        else DimGrowEmbedding
    embedding = layer(
        fields, output_dim=output_dim, alpha=alpha, seed=seed,
        name="dimgrow_embedding", **embedding_kwargs,
    )
    outputs = head(embedding(inputs))
    model = keyed_model(inputs, outputs, name="dimgrow_search")
    compile_model(model, learning_rate)
    return model, embedding


def build_model(result, backbone="wide_deep", output_dim=64, learning_rate=1e-3):
    """A compiled fixed-width model at the searched dims, for retraining.

    Args:
        result: a `SearchResult`, or a list of FieldConfig whose `dim` is
            the width to use. Fields at 0 are dropped: they stay model
            inputs (so the same feature dicts feed both models) but own no
            variables and are ignored.
        backbone: as in `build_search_model`. Defaults to `"wide_deep"`.
        output_dim: int. Projection width. Defaults to `64`.
        learning_rate: float. LazyAdam learning rate. Defaults to `1e-3`.

    Example:

    ```python
    retrained = dimgrow_tf.build_model(search.result(), backbone="wide_deep")
    retrained.fit(train_ds, validation_data=valid_ds, epochs=10)
    ```
    """
    if isinstance(result, SearchResult):
        fields = result.fields
    else:
        fields = [
            f if isinstance(f, FieldConfig) else FieldConfig.from_config(f)
            for f in result
        ]
    if not any(f.dim > 0 for f in fields):
        raise ValueError("Every field has dim 0: there is nothing to train.")
    inputs = field_inputs(fields)
    head = make_backbone(backbone)
    embedding = FixedFieldEmbedding(
        fields, output_dim=output_dim, output_mode=_embedding_output(head),
        name="field_embedding",
    )
    outputs = head(embedding(inputs))
    model = keyed_model(inputs, outputs, name="dimgrow_fixed")
    compile_model(model, learning_rate)
    return model


def uniform_fields(fields, dim):
    """Copies of `fields` all at width `dim` (the uniform-d baseline)."""
    return [f.with_dim(dim) for f in fields]
