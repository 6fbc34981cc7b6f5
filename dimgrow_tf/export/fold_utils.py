"""Folds a searched or fixed-width embedding layer into plain weights.

The inference form of `DimGrowEmbedding` is affine in the looked-up
columns `x`: with gates `g`, moving means `mu` and projection `P`,

    out = sum_f (g_f * x_f + (1 - g_f) * mu_f) @ P_f
        = sum_f x_f @ (g_f[:, None] * P_f) + sum_f ((1 - g_f) * mu_f) @ P_f,

so it equals a `FixedFieldEmbedding` with the same tables, projection rows
scaled by the gates and a bias. Tables keep their rows: ids follow the
loader's layout (`Vocabulary`: 0 = OOV, 1 = missing), so the export needs
no extra bucket.

Which widths are serialised (`FoldedEmbedding.widths`):

- `"current"`: a searched model's widths at its last step (exact fold);
- `"search_result"`: the final dims of a `SearchResult` (the best epoch's
  gates > 0.5); per field the columns with the highest current gates are
  kept and the others are replaced by their moving mean (approximate);
- `"gates"`: `prune_gates=True`, the current gates > 0.5 (approximate);
- `"fixed"`: a retrained model's widths (exact copy).
"""

import dataclasses
from typing import Dict, List, Optional

import numpy as np

from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.layers.backbone_utils import FIELDS
from dimgrow_tf.layers.backbone_utils import SUM
from dimgrow_tf.layers.fieldwise_dimgrow_embedding import FieldwiseDimGrowEmbedding
from dimgrow_tf.layers.dimgrow_embedding import DimGrowEmbedding
from dimgrow_tf.layers.fixed_field_embedding import FixedFieldEmbedding
from dimgrow_tf.models.search_result import FINAL_GATE_THRESHOLD

EMBEDDING_TYPES = (DimGrowEmbedding, FixedFieldEmbedding)


@dataclasses.dataclass
class FoldedEmbedding:
    """Plain weights of a folded embedding layer.

    Args:
        fields: list of FieldConfig of the kept fields (width > 0); `dim`
            is the exported width and `vocab_size` the trained vocabulary.
        tables: dict `{name: (vocab_size, dim) float32 array}`.
        kernel: `(sum dim, output_dim)` projection, rows in field order.
        bias: `(output_dim,)` array, or None when the source has no bias.
        source: `"searched"` or `"fixed"`.
        dropped: names of the source's fields that the export drops.
        widths: str. Which widths were serialised (see module docstring).
        notes: list of str. Where the serialised widths differ from the
            requested ones, and why.
        output_mode: str. `"sum"`, or `"fields"` for a layer with one
            projected vector per field (`bias` is then one row per field).
        head_fields: list of FieldConfig or None. `"fields"` mode: the
            fields in the order the head sees their vectors, dropped fields
            at width 0 (their vector is their bias row, the folded mean).
            `None`: `fields`.
    """

    fields: List[FieldConfig]
    tables: Dict[str, np.ndarray]
    kernel: np.ndarray
    bias: object
    source: str
    dropped: List[str]
    widths: str = "current"
    notes: List[str] = dataclasses.field(default_factory=list)
    output_mode: str = SUM
    head_fields: Optional[List[FieldConfig]] = None

    @property
    def output_dim(self):
        return int(self.kernel.shape[1])


class FoldError(ValueError):
    """A searched model cannot be folded at the asked dims (e.g. every
    field would be dropped)."""


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


def fold_embedding(layer, prune_gates=False, result=None):
    """Returns the `FoldedEmbedding` of a built embedding layer.

    Args:
        layer: a built `DimGrowEmbedding` or `FixedFieldEmbedding`.
        prune_gates: bool. For a `DimGrowEmbedding`: also drop every column
            whose gate is <= 0.5 (the `SearchResult` rule), replacing it by
            its moving mean, which goes into the bias. Approximate: the
            dropped columns' variation around their mean is lost. Defaults
            to `False` (exact fold).
        result: SearchResult or None. For a `DimGrowEmbedding`: serialise
            the result's final dims (fields at 0 dropped; per field the
            `dim` columns with the highest current gates kept, the others
            folded into the bias as with `prune_gates`). Defaults to `None`
            (the current widths).
    """
    if not layer.built:
        raise ValueError(f"Layer {layer.name!r} must be built before export.")
    if isinstance(layer, DimGrowEmbedding):
        if prune_gates and result is not None:
            raise ValueError("Pass `prune_gates=True` or `result`, not both.")
        return _fold_dimgrow(layer, prune_gates, _result_dims(layer, result))
    if prune_gates or result is not None:
        raise ValueError(
            "`prune_gates=True` and `result` need a searched model (with a "
            "DimGrowEmbedding); this model has fixed widths."
        )
    return _copy_fixed(layer)


def _result_dims(layer, result):
    if result is None:
        return None
    sizes = {f.name: f.vocab_size for f in result.fields}
    ours = {f.name: f.vocab_size for f in layer.fields}
    if sizes != ours:
        raise ValueError(
            f"The search result describes fields {sizes} (name: vocab_size); "
            f"the model has {ours}."
        )
    return dict(result.dims)


def _keep_mask(gate, prune_gates, dim):
    if dim is not None:
        keep = np.zeros_like(gate, bool)
        keep[np.argsort(-gate, kind="stable")[:dim]] = True
        return keep
    if prune_gates:
        return gate > FINAL_GATE_THRESHOLD
    return np.ones_like(gate, bool)


def _fold_dimgrow(layer, prune_gates, dims):
    gates = layer.gate_values()
    fields, tables, rows, dropped, notes, head_fields = [], {}, [], [], [], []
    bias = np.zeros((layer.output_dim,), "float64")
    fieldwise = isinstance(layer, FieldwiseDimGrowEmbedding)
    field_biases = []
    for field in layer.fields:
        variables = layer.field_variables(field.name)
        want = None if dims is None else dims[field.name]
        if not variables:
            if want:
                notes.append(f"{field.name}: the result keeps {want} dims but "
                             "the model has width 0; dropped")
            dropped.append(field.name)
            continue
        table = _numpy(variables["embeddings"])
        projection = _numpy(variables["projection"])
        mean = _numpy(variables["moving_mean"])
        gate = np.asarray(gates[field.name], "float64")
        if want is not None and want > gate.size:
            notes.append(f"{field.name}: the result keeps {want} dims but the "
                         f"model has only {gate.size} columns now; all kept")
        keep = _keep_mask(gate, prune_gates, want)
        # Kept column k: x_k g_k P_k + (1 - g_k) mu_k P_k; pruned: mu_k P_k.
        weight = np.where(keep, 1.0 - gate, 1.0)
        bias += (weight * mean) @ projection
        field_biases.append((weight * mean) @ projection)
        if not keep.any():
            # A head taking one vector per field keeps the slot: its vector is
            # now the constant bias row (mu @ P), and the field needs no input.
            if fieldwise:
                head_fields.append(field.with_dim(0))
                notes.append(f"{field.name}: dropped; the head sees its mean "
                             "vector as a constant")
            dropped.append(field.name)
            continue
        fields.append(field.with_dim(int(keep.sum())))
        head_fields.append(fields[-1])
        tables[field.name] = table[:, keep]
        rows.append(gate[keep][:, None] * projection[keep])
    if not fields:
        raise FoldError("Every field would be dropped: nothing to export.")
    return FoldedEmbedding(
        fields=fields,
        tables={k: v.astype("float32") for k, v in tables.items()},
        kernel=np.concatenate(rows, axis=0).astype("float32"),
        bias=(np.stack(field_biases) if fieldwise else bias).astype("float32"),
        source="searched",
        dropped=dropped,
        widths="search_result" if dims is not None else (
            "gates" if prune_gates else "current"),
        notes=notes,
        output_mode=FIELDS if fieldwise else SUM,
        head_fields=head_fields if fieldwise else None,
    )


def _copy_fixed(layer):
    fields = layer.input_fields
    tables = {f.name: _numpy(layer.embeddings[f.name].embeddings) for f in fields}
    projection = layer.projection
    bias = _numpy(projection.bias).astype("float32") if layer.use_bias else None
    return FoldedEmbedding(
        fields=fields,
        tables={k: v.astype("float32") for k, v in tables.items()},
        kernel=_numpy(projection.kernel).astype("float32"),
        bias=bias,
        source="fixed",
        dropped=[f.name for f in layer.fields if f.dim == 0],
        widths="fixed",
        output_mode=layer.output_mode,
        head_fields=layer.slot_fields if layer.output_mode == FIELDS else None,
    )


def _numpy(variable):
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
