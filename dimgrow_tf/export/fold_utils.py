"""Folds a searched or fixed-width embedding layer into plain weights.

The inference form of `DimGrowEmbedding` is affine in the looked-up
columns `x`: with gates `g`, moving means `mu` and projection `P`,

    out = sum_f (g_f * x_f + (1 - g_f) * mu_f) @ P_f
        = sum_f x_f @ (g_f[:, None] * P_f) + sum_f ((1 - g_f) * mu_f) @ P_f,

so it equals a `FixedFieldEmbedding` with the same tables, projection rows
scaled by the gates and a bias. Every table also gains one row, the OOV
bucket, at index `vocab_size`.
"""

import dataclasses
from typing import Dict, List

import numpy as np

from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding
from dimgrow_tf.layers.fixed_field_embedding import FixedFieldEmbedding
from dimgrow_tf.models.search_result import FINAL_GATE_THRESHOLD

EMBEDDING_TYPES = (DimGrowEmbedding, FixedFieldEmbedding)


@dataclasses.dataclass
class FoldedEmbedding:
    """Plain weights of a folded embedding layer.

    Args:
        fields: list of FieldConfig of the kept fields (width > 0); `dim`
            is the exported width and `vocab_size` the trained vocabulary
            (the exported table has one more row, the OOV bucket).
        tables: dict `{name: (vocab_size + 1, dim) float32 array}`.
        kernel: `(sum dim, output_dim)` projection, rows in field order.
        bias: `(output_dim,)` array, or None when the source has no bias.
        source: `"searched"` or `"fixed"`.
        dropped: names of the source's fields that the export drops.
    """

    fields: List[FieldConfig]
    tables: Dict[str, np.ndarray]
    kernel: np.ndarray
    bias: object
    source: str
    dropped: List[str]

    @property
    def output_dim(self):
        return int(self.kernel.shape[1])


def find_embedding_layer(model):
    """Returns the one `DimGrowEmbedding`/`FixedFieldEmbedding` of `model`."""
    found = [layer for layer in model.layers if isinstance(layer, EMBEDDING_TYPES)]
    if len(found) != 1:
        raise ValueError(
            "Export needs a functional model with exactly one top-level "
            "DimGrowEmbedding or FixedFieldEmbedding layer (as built by "
            "`build_search_model` or `build_model`). Found "
            f"{[layer.name for layer in found]} in model {model.name!r}."
        )
    return found[0]


def fold_embedding(layer, prune_gates=False):
    """Returns the `FoldedEmbedding` of a built embedding layer.

    Args:
        layer: a built `DimGrowEmbedding` or `FixedFieldEmbedding`.
        prune_gates: bool. For a `DimGrowEmbedding`: also drop every column
            whose gate is <= 0.5 (the `SearchResult` rule), replacing it by
            its moving mean, which goes into the bias. Approximate: the
            dropped columns' variation around their mean is lost. Defaults
            to `False` (exact fold).
    """
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} must be built before export.")
    if isinstance(layer, DimGrowEmbedding):
        return _fold_dimgrow(layer, prune_gates)
    if prune_gates:
        raise ValueError(
            "`prune_gates=True` needs a searched model (with a "
            "DimGrowEmbedding); this model has fixed widths."
        )
    return _copy_fixed(layer)


def _fold_dimgrow(layer, prune_gates):
    gates = layer.gate_values()
    fields, tables, rows, dropped = [], {}, [], []
    bias = np.zeros((layer.output_dim,), "float64")
    for field in layer.fields:
        variables = layer.field_variables(field.name)
        if not variables:
            dropped.append(field.name)
            continue
        table = _numpy(variables["embeddings"])
        projection = _numpy(variables["projection"])
        mean = _numpy(variables["moving_mean"])
        gate = np.asarray(gates[field.name], "float64")
        keep = gate > FINAL_GATE_THRESHOLD if prune_gates else np.ones_like(gate, bool)
        # Kept column k: x_k g_k P_k + (1 - g_k) mu_k P_k; pruned: mu_k P_k.
        weight = np.where(keep, 1.0 - gate, 1.0)
        bias += (weight * mean) @ projection
        if not keep.any():
            dropped.append(field.name)
            continue
        fields.append(field.with_dim(int(keep.sum())))
        tables[field.name] = _with_oov_row(table[:, keep], mean[keep])
        rows.append(gate[keep][:, None] * projection[keep])
    if not fields:
        raise ValueError("Every field would be dropped: nothing to export.")
    return FoldedEmbedding(
        fields=fields,
        tables={k: v.astype("float32") for k, v in tables.items()},
        kernel=np.concatenate(rows, axis=0).astype("float32"),
        bias=bias.astype("float32"),
        source="searched",
        dropped=dropped,
    )


def _copy_fixed(layer):
    fields, tables = [], {}
    for field in layer.fields:
        if field.dim == 0:
            continue
        table = _numpy(layer.embeddings[field.name].embeddings)
        fields.append(field)
        tables[field.name] = _with_oov_row(table, table.mean(axis=0))
    projection = layer.projection
    bias = _numpy(projection.bias).astype("float32") if layer.use_bias else None
    return FoldedEmbedding(
        fields=fields,
        tables={k: v.astype("float32") for k, v in tables.items()},
        kernel=_numpy(projection.kernel).astype("float32"),
        bias=bias,
        source="fixed",
        dropped=[f.name for f in layer.fields if f.dim == 0],
    )


def _with_oov_row(table, row):
    return np.concatenate([table, np.asarray(row, table.dtype)[None, :]], axis=0)


def _numpy(variable):
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
