"""The compact inference model that an export serves."""

import dataclasses
import warnings

import numpy as np
import tensorflow as tf

from dimgrow_tf import tf_keras_compat
from dimgrow_tf.backend_compat import KERAS_3
from dimgrow_tf.backend_compat import keras
from dimgrow_tf.export.fold_utils import find_embedding_layer
from dimgrow_tf.export.fold_utils import fold_embedding
from dimgrow_tf.layers.fixed_field_embedding import FixedFieldEmbedding
from dimgrow_tf.models.builders import field_inputs
from dimgrow_tf.models.builders import keyed_model

EMBEDDING_NAME = "folded_embedding"
HEAD_NAME = "head"


def compact_model(model, prune_gates=False, result=None):
    """Freezes a searched or retrained model into a compact inference model.

    The model's `DimGrowEmbedding` (searched model) or `FixedFieldEmbedding`
    (retrained model) is replaced by a `FixedFieldEmbedding` with a bias:

    - searched model: the gates and the moving means are folded into the
      weights (the layer's deterministic inference form
      `x* = g * x + (1 - g) * mu`), so the result predicts what the searched
      model predicts with `training=False`, up to float rounding;
    - fields at width 0 are dropped, and so are their inputs: the compact
      model takes one `int32` input per kept field (a head that takes one
      vector per field, such as `DeepFM`, still sees a dropped field's
      folded mean vector, as a constant);
    - tables keep their rows (the same ids as the source model: with a
      loader `Vocabulary`, 0 = OOV and 1 = missing) and their widths: the
      current ones, or those of `result` / `prune_gates` (see
      `fold_utils`).

    The layers after the embedding are cloned with their weights (or, when
    a layer cannot be cloned from its config, shared) and the result holds
    no gate logits, moving means, shuffle seeds or optimizer state.

    Args:
        model: a functional Keras model with one top-level
            `DimGrowEmbedding` or `FixedFieldEmbedding` whose output feeds
            the rest of the model (as built by `build_search_model` or
            `build_model`) and one probability output.
        prune_gates: bool. Searched models only: also drop the columns
            whose gate is <= 0.5, folding their moving mean into the bias.
            Approximate (the dropped columns' variation is lost). Defaults
            to `False`.
        result: SearchResult or None. Searched models only: serialise the
            result's final dims instead of the current widths (approximate
            like `prune_gates`). Defaults to `None`.

    Returns:
        A `keras.Model` taking `{kept field: int32 ids (batch,)}` (a
        multi-valent field: padded `(batch, length)` lists) with ids in
        `[0, vocab_size)` and returning the probability `(batch, 1)`.

    Example:

    ```python
    model, emb = dimgrow_tf.build_search_model(fields)
    model.fit(train_ds, callbacks=[dimgrow_tf.DimGrowCallback(emb)])
    small = dimgrow_tf.export.compact_model(model)
    small.predict(features)   # == model.predict(features), dropped fields
                              # need not be passed
    ```
    """
    return build_compact(model, prune_gates, result)[0]


def build_compact(model, prune_gates=False, result=None):
    """`(compact keras.Model, FoldedEmbedding)`; see `compact_model`."""
    layer = find_embedding_layer(model)
    folded = fold_embedding(layer, prune_gates, result)
    head = _clone_head(model, layer)
    fields = [dataclasses.replace(f, max_dim=None) for f in folded.fields]
    slots = [dataclasses.replace(f, max_dim=None) for f in folded.head_fields or ()]
    embedding = FixedFieldEmbedding(
        slots or fields,
        output_dim=folded.output_dim,
        use_bias=folded.bias is not None,
        count_out_of_range=False,  # serving maps ids itself; no metric state
        output_mode=folded.output_mode,
        name=EMBEDDING_NAME,
    )
    embedding.build()
    for f in fields:
        embedding.embeddings[f.name].embeddings.assign(folded.tables[f.name])
    embedding.projection.kernel.assign(folded.kernel)
    if folded.bias is not None:
        embedding.projection.bias.assign(folded.bias)
    inputs = field_inputs(fields)
    outputs = head(embedding(inputs))
    compact = keyed_model(inputs, outputs, name=f"{model.name}_compact")
    return compact, folded


def _clone_head(model, layer):
    if len(model.outputs) != 1:
        raise ValueError(
            f"Export needs a model with one probability output; model "
            f"{model.name!r} has {len(model.outputs)} outputs."
        )
    message = (
        f"Cannot split model {model.name!r} after layer {layer.name!r}: "
        "export needs the embedding output to be the only path from the "
        "inputs to the output, with the layer called once."
    )
    try:
        source = layer.output
        if not _depends_only_on(model.outputs[0], source):
            raise ValueError(message)
        head = keras.Model(source, model.outputs[0], name=HEAD_NAME)
    except (AttributeError, RuntimeError) as err:
        raise ValueError(f"{message} ({err})") from err
    try:
        clone = keras.models.clone_model(head)
    except (TypeError, ValueError, NotImplementedError) as err:
        warnings.warn(
            f"Layers after {layer.name!r} could not be cloned from their "
            f"config ({err}); the compact model shares them with {model.name!r}."
        )
        return head
    clone.set_weights([np.asarray(w) for w in head.get_weights()])
    return clone


def unchecked_forward(compact, ids):
    """The compact model's forward pass without its id-range assertions.

    For ids already mapped into `[0, vocab_size)` (the serving graph does
    so): the same layers and weights as `compact(ids, training=False)`,
    with fewer ops per request and a smaller graph.
    """
    embedding = compact.get_layer(EMBEDDING_NAME)
    columns = [embedding.embeddings[f.name](ids[f.name]) for f in embedding.input_fields]
    hidden = embedding.projection(tf.concat(columns, axis=1))
    return compact.get_layer(HEAD_NAME)(hidden, training=False)


def _depends_only_on(output, source):
    """Whether every path from the model inputs to `output` passes `source`."""
    stack, seen = [output], set()
    while stack:
        tensor = stack.pop()
        if tensor is source or id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if KERAS_3:
            operation, node_index, _ = tensor._keras_history
            inputs = operation._inbound_nodes[node_index].input_tensors
        else:
            inputs = tf_keras_compat.parent_tensors(tensor)
        if not inputs:
            return False
        stack.extend(inputs)
    return True
