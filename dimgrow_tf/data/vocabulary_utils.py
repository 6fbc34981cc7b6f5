"""Helpers of `Vocabulary`: argument checks and the per-kind column encoders."""

import numpy as np

from dimgrow_tf.field_config import PAD_ID

OOV_ID = 0
MISSING_ID = 1
# Rows tokenized per call when a text column is encoded.
TEXT_CHUNK = 65536


def check_missing(missing):
    """Returns the missing tokens as a tuple of str, or raises."""
    if isinstance(missing, str) or not all(isinstance(m, str) for m in missing):
        raise ValueError(
            f"`missing` must be a list of strings. Received: missing={missing!r}"
        )
    return tuple(missing)


def check_min_count(min_count):
    """Returns `min_count` (an int >= 1), or raises."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(
            f"`min_count` must be an integer >= 1. Received: min_count={min_count!r}"
        )
    return min_count


def is_list(value):
    """Whether `value` is a row of a list column (not a single string)."""
    return isinstance(value, (list, tuple, np.ndarray))


def list_values(name, column, missing):
    """Yields the values of a list column's rows, missing tokens left out."""
    for row, values in enumerate(column):
        if values is None:
            continue
        for value in _check_list(name, row, values):
            if value not in missing:
                yield value


def encode_scalars(name, column, ids, missing):
    """`(int32 ids, OOV count)` of a column with one value per row."""
    get = ids.get
    try:
        out = np.fromiter(
            (MISSING_ID if v is None or v in missing else get(v, OOV_ID) for v in column),
            dtype=np.int32, count=len(column),
        )
    except TypeError:
        out = None
    for row in (range(len(column)) if out is None else np.flatnonzero(out == OOV_ID)):
        value = column[row]
        if value is not None and not isinstance(value, str):
            what = "a list" if is_list(value) else f"a {type(value).__name__}"
            raise ValueError(
                f"Field {name!r}, row {row}: the field takes one string value per "
                f"row; received {what} ({value!r}). A list of values needs a "
                "multivalent column (kind 'list')."
            )
    if out is None:
        raise ValueError(f"Field {name!r}: values must be strings or None.")
    return out, int(np.count_nonzero(out == OOV_ID))


def encode_lists(name, column, ids, missing):
    """`(int32 (rows, length) ids padded with PAD_ID, OOV count)` of a list
    column: missing tokens are dropped, a row without values is `[1]`."""
    rows, oov = [], 0
    for row, values in enumerate(column):
        if values is None:
            rows.append((MISSING_ID,))
            continue
        out = [ids.get(v, OOV_ID) for v in _check_list(name, row, values)
               if v not in missing]
        oov += out.count(OOV_ID)
        rows.append(out or (MISSING_ID,))
    return pad_rows(rows), oov


def encode_texts(name, column, tokenizer, missing):
    """`(int32 (rows, length) token ids padded with PAD_ID, OOV count)` of a
    text column; a missing text (`None`, a missing token) is `[1]`."""
    import tensorflow as tf

    texts = []
    for row, value in enumerate(column):
        if value is not None and not isinstance(value, str):
            raise ValueError(
                f"Field {name!r}, row {row}: a text field takes one string per row; "
                f"received {value!r}.")
        texts.append("" if value is None or value in missing else value)
    chunks = [np.asarray(tokenizer(tf.constant(texts[k:k + TEXT_CHUNK], tf.string)))
              for k in range(0, len(texts), TEXT_CHUNK)]
    out = np.full((len(texts), max([c.shape[1] for c in chunks], default=1)), PAD_ID,
                  np.int32)
    start = 0
    for chunk in chunks:
        out[start:start + len(chunk), :chunk.shape[1]] = chunk
        start += len(chunk)
    return out, int(np.count_nonzero(out == OOV_ID))


def pad_rows(rows, length=None):
    """Rows of ids -> int32 `(rows, length)` padded with `PAD_ID`; rows are
    cut to `length` (None: the longest row, at least 1)."""
    if length is None:
        length = max((len(r) for r in rows), default=1) or 1
    out = np.full((len(rows), length), PAD_ID, np.int32)
    for i, row in enumerate(rows):
        row = row[:length]
        out[i, :len(row)] = row
    return out


def _check_list(name, row, values):
    if not is_list(values):
        raise ValueError(
            f"Field {name!r}, row {row}: the field takes a list of values per row "
            f"(kind 'list'); received a {type(values).__name__} ({values!r}).")
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise ValueError(f"Field {name!r}, row {row}: list values must be strings; "
                         f"received {bad[0]!r} in {list(values)!r}.")
    return values
