"""Turns the inputs a user passes into one id vector per field."""

import keras
import tensorflow as tf
from keras import ops


def split_field_inputs(inputs, fields):
    """Returns `{name: integer ids of shape (batch,)}` for `fields`.

    Ids keep a dtype that holds every input value (int64 stays int64,
    unsigned types become int64, narrower ints int32), so that
    `map_out_of_range` sees the value the user passed: casting 2**32 + 3 to
    int32 first would read it as row 3.

    Args:
        inputs: a dict `{field name: ids}` with ids of shape `(batch,)` or
            `(batch, 1)` (extra keys are ignored), or one integer tensor of
            shape `(batch, len(fields))` in field order.
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
        return {n: _as_ids(inputs[n], n) for n in names}
    if isinstance(inputs, (list, tuple)):
        raise TypeError(
            "Pass field inputs as a dict {field name: ids} or as one "
            "(batch, num_fields) tensor, not a list."
        )
    shape = tuple(inputs.shape)
    if len(shape) != 2 or (shape[1] is not None and shape[1] != len(names)):
        raise ValueError(
            f"A single input tensor must have shape (batch, {len(names)}) "
            f"(one column per field: {names}). Received shape {shape}."
        )
    return {n: _as_ids(inputs[:, i], n) for i, n in enumerate(names)}


def _as_ids(x, name):
    dtype = getattr(x, "dtype", None)
    dtype_name = getattr(dtype, "name", str(dtype))
    if dtype is not None and "int" not in dtype_name:
        raise TypeError(
            f"Field {name!r} expects integer ids. Received dtype {dtype_name}. "
            "Map raw values (e.g. strings) to ids first."
        )
    if dtype_name in ("int64",) or dtype_name.startswith("uint"):
        # uint64 values above int64's range wrap to negative: still rejected.
        x = ops.cast(x, "int64")
    else:
        x = ops.cast(x, "int32")
    if len(x.shape) == 2 and x.shape[-1] == 1:
        x = ops.squeeze(x, axis=-1)
    if len(x.shape) != 1:
        raise ValueError(
            f"Field {name!r} expects ids of shape (batch,) or (batch, 1). "
            f"Received shape {tuple(x.shape)}."
        )
    return x


# Name of the metric counting ids read as OOV because they were out of range.
OUT_OF_RANGE_METRIC = "out_of_range_ids"

# Row 0 is the loader's OOV id (`dimgrow_tf.data.vocabulary.OOV_ID`).
_OOV_ID = 0


def map_out_of_range(ids, vocab_size):
    """Maps ids outside `[0, vocab_size)` to the OOV row 0; counts them.

    This is the one id rule of training, evaluation and serving: the loader
    maps unseen values to 0 (OOV) and the serving graph maps out-of-range
    ids to 0, so the layers read them as row 0 too. It is plain tensor math,
    so it holds under XLA (`jit_compile=True`), where graph asserts are
    dropped. The comparison runs in the ids' own dtype (see
    `split_field_inputs`), so an int64 id is not wrapped first.

    Returns:
        `(int32 ids, float32 count of mapped ids)`.
    """
    bad = tf.logical_or(
        ids < tf.constant(0, ids.dtype), ids >= tf.constant(vocab_size, ids.dtype)
    )
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
        out[f.name], count = map_out_of_range(ids[f.name], f.vocab_size)
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
    return tf.gather(getattr(variable, "value", variable), ids)
