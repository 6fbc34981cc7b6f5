"""Turns the inputs a user passes into one id vector per field."""

import tensorflow as tf

from dimgrow_tf import backend_compat
from dimgrow_tf.backend_compat import keras
from dimgrow_tf.field_config import PAD_ID


def split_field_inputs(inputs, fields):
    """Returns `{name: integer ids}` for `fields`.

    A single-valued field gives ids of shape `(batch,)`; a multi-valent
    field (`FieldConfig.combiner`) gives padded id lists `(batch, length)`
    whose padding is `PAD_ID` (-1). Ids keep a dtype that holds every input
    value (int64 stays int64, unsigned types become int64, narrower ints
    int32), so that `map_out_of_range` sees the value the user passed:
    casting 2**32 + 3 to int32 first would read it as row 3.

    Args:
        inputs: a dict `{field name: ids}` (extra keys are ignored), or one
            integer tensor of shape `(batch, len(fields))` in field order
            (single-valued fields only). Single-valued ids have shape
            `(batch,)` or `(batch, 1)`; multi-valent ids are a
            `tf.RaggedTensor`, a `tf.SparseTensor` or a padded
            `(batch, length)` tensor (`(batch,)`: one id per row).
        fields: list of FieldConfig.
    """
    names = [f.name for f in fields]
    if isinstance(inputs, dict):
        missing = [n for n in names if n not in inputs]
        if missing:
            raise ValueError(
                f"Inputs lack the field(s) {missing}. "
                f"Received keys: {sorted(inputs)}"
            )
        return {f.name: _field_ids(inputs[f.name], f) for f in fields}
    if isinstance(inputs, (list, tuple)):
        raise TypeError(
            "Pass field inputs as a dict {field name: ids} or as one "
            "(batch, num_fields) tensor, not a list."
        )
    multi = [f.name for f in fields if f.multivalent]
    if multi:
        raise ValueError(
            f"Multi-valent field(s) {multi} need a dict input "
            "{field name: ids}, not one (batch, num_fields) tensor."
        )
    shape = tuple(inputs.shape)
    if len(shape) != 2 or (shape[1] is not None and shape[1] != len(names)):
        raise ValueError(
            f"A single input tensor must have shape (batch, {len(names)}) "
            f"(one column per field: {names}). Received shape {shape}."
        )
    return {n: _as_ids(inputs[:, i], n) for i, n in enumerate(names)}


def _field_ids(x, field):
    if field.multivalent:
        return _as_id_lists(x, field.name)
    if isinstance(x, (tf.RaggedTensor, tf.SparseTensor)):
        raise ValueError(
            f"Field {field.name!r} is single-valued but received a "
            f"{type(x).__name__} (a list of ids per row). Give it a "
            "`combiner` (FieldConfig(..., combiner='mean')) to make it "
            "multi-valent, or pass one id per row."
        )
    return _as_ids(x, field.name)


def _id_dtype(x, name):
    dtype = getattr(x, "dtype", None)
    dtype_name = getattr(dtype, "name", str(dtype))
    if dtype is not None and "int" not in dtype_name:
        raise TypeError(
            f"Field {name!r} expects integer ids. Received dtype {dtype_name}. "
            "Map raw values (e.g. strings) to ids first."
        )
    # uint64 values above int64's range wrap to negative: still rejected.
    if dtype_name in ("int64",) or dtype_name.startswith("uint"):
        return "int64"
    return "int32"


def _as_ids(x, name):
    x = tf.cast(x, _id_dtype(x, name))
    if len(x.shape) == 2 and x.shape[-1] == 1:
        x = tf.squeeze(x, axis=-1)
    if len(x.shape) != 1:
        hint = (" For a list of ids per row, give the field a `combiner` "
                "(FieldConfig(..., combiner='mean')).") if len(x.shape) == 2 else ""
        raise ValueError(
            f"Field {name!r} expects ids of shape (batch,) or (batch, 1). "
            f"Received shape {tuple(x.shape)}.{hint}"
        )
    return x


def _as_id_lists(x, name):
    dtype = _id_dtype(x, name)
    if isinstance(x, tf.RaggedTensor):
        if x.ragged_rank != 1 or len(x.shape) != 2:
            raise ValueError(
                f"Field {name!r} expects one list of ids per row: a ragged "
                f"tensor of shape (batch, None). Received shape {x.shape}."
            )
        x = tf.cast(x, dtype).to_tensor(default_value=tf.constant(PAD_ID, dtype))
    elif isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(tf.cast(x, dtype), default_value=tf.constant(PAD_ID, dtype))
    else:
        x = tf.cast(x, dtype)
    if len(x.shape) == 1:
        x = tf.expand_dims(x, axis=-1)
    if len(x.shape) != 2:
        raise ValueError(
            f"Multi-valent field {name!r} expects padded ids of shape "
            f"(batch, length) or a ragged (batch, None) tensor. Received "
            f"shape {tuple(x.shape)}."
        )
    return x


# Name of the metric counting ids read as OOV because they were out of range.
OUT_OF_RANGE_METRIC = "out_of_range_ids"

# Row 0 is the loader's OOV id (`dimgrow_tf.data.vocabulary.OOV_ID`).
_OOV_ID = 0


def map_out_of_range(ids, vocab_size, multivalent=False):
    """Maps ids outside `[0, vocab_size)` to the OOV row 0; counts them.

    This is the one id rule of training, evaluation and serving: the loader
    maps unseen values to 0 (OOV) and the serving graph maps out-of-range
    ids to 0, so the layers read them as row 0 too. It is plain tensor math,
    so it holds under XLA (`jit_compile=True`), where graph asserts are
    dropped. The comparison runs in the ids' own dtype (see
    `split_field_inputs`), so an int64 id is not wrapped first. With
    `multivalent`, the padding `PAD_ID` stays padding and is not counted.

    Returns:
        `(int32 ids, float32 count of mapped ids)`.
    """
    bad = tf.logical_or(
        ids < tf.constant(0, ids.dtype), ids >= tf.constant(vocab_size, ids.dtype)
    )
    if multivalent:
        bad = tf.logical_and(bad, tf.not_equal(ids, tf.constant(PAD_ID, ids.dtype)))
    mapped = tf.where(bad, tf.constant(_OOV_ID, ids.dtype), ids)
    return tf.cast(mapped, tf.int32), tf.reduce_sum(tf.cast(bad, tf.float32))


def lookup_ids(ids, fields, counter=None):
    """`{name: int32 ids}` of `fields` with `map_out_of_range` applied.

    Args:
        ids: dict from `split_field_inputs`.
        fields: the fields to map (their `vocab_size`).
        counter: a `keras.metrics.Sum` updated with the number of mapped
            ids, or None.
    """
    out, total = {}, []
    for f in fields:
        out[f.name], count = map_out_of_range(ids[f.name], f.vocab_size, f.multivalent)
        total.append(count)
    if counter is not None and total:
        counter.update_state(tf.add_n(total))
    return out


def out_of_range_counter():
    """The metric a layer updates with `lookup_ids` (reset every epoch)."""
    return keras.metrics.Sum(name=OUT_OF_RANGE_METRIC)


def gather_rows(variable, ids):
    """Looks up `ids` in an embedding table without reading all of it.

    `keras.ops.take` on a variable reads the whole table into a tensor, and
    the optimizer's in-place row update then forces TensorFlow to copy the
    whole buffer (copy-on-write): a step then costs O(vocabulary). Gathering
    from the `tf.Variable` itself (`ResourceGather`) reads only the rows.
    """
    return tf.gather(backend_compat.storage(variable), ids)


def embed_field(variable, ids, field):
    """The rows of `ids` in a field's table: `(batch, width)`.

    A single-valued field gathers one row per id (`gather_rows`); a
    multi-valent field combines the rows of each list (`combine_rows`).
    """
    if field.multivalent:
        return combine_rows(variable, ids, field.combiner)
    return gather_rows(variable, ids)


def combine_rows(variable, ids, combiner):
    """Combines the table rows of padded id lists into one row each.

    Args:
        variable: the `(vocab_size, width)` table (the width may be unknown
            until run time).
        ids: int32 `(batch, length)` ids in range, padded with `PAD_ID`.
        combiner: `"mean"`, `"sum"` or `"sqrtn"` (sum / sqrt(count)).

    Returns:
        `(batch, width)`; zeros for a row without ids.

    Padding reads the row of its list's first id (and is masked out), so a
    lookup touches only rows the batch holds: row-sparse optimizers
    (`LazyAdam`) see no extra row. Static shapes only, so it runs under XLA.
    """
    ids = tf.pad(ids, [[0, 0], [0, tf.maximum(1 - tf.shape(ids)[1], 0)]],
                 constant_values=PAD_ID)
    valid = tf.not_equal(ids, PAD_ID)
    first = tf.gather(
        ids, tf.argmax(tf.cast(valid, tf.int32), axis=1, output_type=tf.int32),
        batch_dims=1,
    )
    safe = tf.where(valid, ids, tf.maximum(first, 0)[:, None])
    rows = gather_rows(variable, safe)
    mask = tf.cast(valid, rows.dtype)[:, :, None]
    total = tf.reduce_sum(rows * mask, axis=1)
    if combiner == "sum":
        return total
    count = tf.reduce_sum(mask, axis=1)
    if combiner == "sqrtn":
        count = tf.sqrt(count)
    return total / tf.maximum(count, tf.constant(1.0, rows.dtype))
