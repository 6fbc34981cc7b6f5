"""Raw request values -> the loader's ids, inside the serving graph.

One rule, the `Vocabulary` layout, holds in training, evaluation and
serving:

| raw value | id |
| --- | --- |
| a kept training value | its `Vocabulary` id (2..) |
| a value not kept (unseen, or rarer than `min_count`) | 0 (`OOV_ID`) |
| a missing token (`Vocabulary.missing`, `""` by default), or a feature absent from a `tf.Example` | 1 (`MISSING_ID`) |
| an integer id (field without a vocabulary) outside `[0, vocab_size)` | 0 (`OOV_ID`) |

Raw values of the vocabulary's `discretise` fields first go through the
loader's `floor(ln(v)**2)` for `v > 2` (`log_squared`), as when loading.

A text field (a multi-valent field with a `TextTokenizer`) takes one string
per row and the tokenizer maps it to token ids in the same layout; an
empty string, an absent feature or (a `"text"` field of the vocabulary) a
missing token is missing (`[1]`).

Any other multi-valent field (`FieldConfig.combiner`) takes a list of values per
row: a padded `(batch, length)` tensor in `serving_default` (padding:
`""` or a missing token for strings, `-1` for integers; both are dropped)
or a list feature in a `tf.Example`. Each value maps by the rule above; a
row left without values (all padding, an empty list, an absent feature)
is missing: the list `[1]`. A field with `max_len` keeps the first
`max_len` ids of a row, as the loader does. The ids go to the model padded
with `PAD_ID`.

`layout_ids` is the TF form of that rule; `RawFeatures` applies it to the
inputs of an export and the TFX module applies it to its Transform
vocabularies.
"""

import os

import tensorflow as tf

from dimgrow_tf.data.vocabulary import FIRST_VALUE_ID
from dimgrow_tf.data.vocabulary import MISSING_ID
from dimgrow_tf.data.vocabulary import OOV_ID
from dimgrow_tf.field_config import PAD_ID
from dimgrow_tf.layers.text_tokenizer_utils import padded_token_ids

# A feature absent from a tf.Example parses to these: a line break, which no
# vocabulary value may hold, and the smallest int64 (reserved: missing).
ABSENT_STRING = "\n"
ABSENT_INT = -(2**63)
STRING, INT, ID, TEXT = "string", "int", "id", "text"


def layout_ids(index, missing):
    """The `Vocabulary` id of values found at `index` of a value list.

    Args:
        index: integer tensor. Position of each value in the field's kept
            values, or a negative number when the value is not kept.
        missing: bool tensor of the same shape. The value is missing.

    Returns:
        int32 ids: `MISSING_ID` where missing, else `OOV_ID` for negative
        positions and `index + FIRST_VALUE_ID` otherwise.
    """
    index = tf.cast(index, tf.int64)
    ids = tf.where(index < 0, tf.constant(OOV_ID, tf.int64), index + FIRST_VALUE_ID)
    return tf.cast(tf.where(missing, tf.constant(MISSING_ID, tf.int64), ids), tf.int32)


def range_ids(ids, vocab_size):
    """Integer ids already in the layout; outside `[0, vocab_size)`: OOV."""
    ids = tf.cast(ids, tf.int64)
    missing = tf.equal(ids, ABSENT_INT)
    in_range = (ids >= 0) & (ids < vocab_size)
    out = tf.where(in_range, ids, tf.constant(OOV_ID, tf.int64))
    return tf.cast(tf.where(missing, tf.constant(MISSING_ID, tf.int64), out), tf.int32)


def log_squared(values):
    """The loader's integer discretisation in TF: `floor(ln(v)**2)` for
    `v > 2`, else `v` (`loader_utils.log_squared`), in float64."""
    values = tf.cast(values, tf.int64)
    safe = tf.cast(tf.maximum(values, 3), tf.float64)
    squared = tf.cast(tf.floor(tf.square(tf.math.log(safe))), tf.int64)
    return tf.where(values > 2, squared, values)


def field_kinds(fields, vocabulary, tokenizers=None):
    """`{field: "string" | "int" | "id" | "text"}` of an export's inputs.

    `"string"`: a `"str"` vocabulary field, served as `DT_STRING`;
    `"int"`: an `"int"` vocabulary field, served as `DT_INT64` raw values;
    `"id"`: a field without a vocabulary, served as `DT_INT64` ids;
    `"text"`: a field with a tokenizer, served as one `DT_STRING` per row.
    """
    kinds = {}
    for f in fields:
        if tokenizers and f.name in tokenizers:
            kinds[f.name] = TEXT
        elif vocabulary is None or f.name not in vocabulary.field_names:
            kinds[f.name] = ID
        else:
            kinds[f.name] = {"str": STRING, "list": STRING, "text": TEXT}.get(
                vocabulary.kinds[f.name], INT)
    return kinds


class RawFeatures(tf.Module):
    """Maps the raw inputs of an export to model ids (see module doc).

    The serving-signature builder (`serving_module.build_serving_module`)
    takes any object with this interface: `input_signature` (the
    `serving_default` inputs), `example_spec` (for `tf.io.parse_example`)
    and `__call__(raw) -> {field: int32 ids}`.

    Args:
        fields: list of FieldConfig of the export's inputs.
        vocabulary: Vocabulary or None. Its fields take raw values.
        asset_dir: str. Directory for the value files (`vocab_<field>.txt`,
            one value per line; copied into the export's `assets/`).
        tokenizers: dict `{field: TextTokenizer}` or None. Text fields.
    """

    def __init__(self, fields, vocabulary, asset_dir, tokenizers=None):
        super().__init__(name="raw_features")
        self.fields = list(fields)
        self.tokenizers = dict(tokenizers or {})
        self.kinds = field_kinds(self.fields, vocabulary, self.tokenizers)
        self.tables = {}
        self.missing = {}
        self.discretise = set(vocabulary.discretise) if vocabulary else set()
        for f in self.fields:
            if self.kinds[f.name] == TEXT and vocabulary is not None \
                    and f.name in vocabulary.field_names:
                self.missing[f.name] = list(vocabulary.missing)
            if self.kinds[f.name] in (ID, TEXT):
                continue
            path = os.path.join(asset_dir, f"vocab_{f.name}.txt")
            write_values(path, vocabulary.values(f.name))
            self.tables[f.name] = value_table(path)
            self.missing[f.name] = list(vocabulary.missing)

    @property
    def input_signature(self):
        return {
            f.name: tf.TensorSpec(
                [None, None] if self._lists(f) else [None],
                tf.string if self.kinds[f.name] in (STRING, TEXT) else tf.int64,
                name=f.name,
            )
            for f in self.fields
        }

    @property
    def example_spec(self):
        spec = {}
        for f in self.fields:
            dtype = tf.string if self.kinds[f.name] in (STRING, TEXT) else tf.int64
            if self._lists(f):
                spec[f.name] = tf.io.RaggedFeature(dtype, row_splits_dtype=tf.int64)
            elif dtype == tf.string:
                spec[f.name] = tf.io.FixedLenFeature([], dtype, default_value=ABSENT_STRING)
            else:
                spec[f.name] = tf.io.FixedLenFeature([], dtype, default_value=ABSENT_INT)
        return spec

    def __call__(self, raw):
        ids = {}
        for f in self.fields:
            if self.kinds[f.name] == TEXT:
                ids[f.name] = self._text_ids(f, tf.ensure_shape(raw[f.name], [None]))
                continue
            if f.multivalent:
                ids[f.name] = self._list_ids(f, raw[f.name])
                continue
            values = tf.ensure_shape(raw[f.name], [None])
            ids[f.name] = self._ids(f, values, self._missing(f, values))
        return ids

    def _lists(self, field):
        return field.multivalent and self.kinds[field.name] != TEXT

    def _text_ids(self, field, values):
        missing = tf.equal(values, ABSENT_STRING)
        for token in self.missing.get(field.name, ()):
            missing = missing | tf.equal(values, token)
        return self.tokenizers[field.name](tf.where(missing, "", values))

    def _missing(self, field, values):
        if self.kinds[field.name] == STRING:
            missing = tf.equal(values, ABSENT_STRING)
            for token in self.missing.get(field.name, ("",)):
                missing = missing | tf.equal(values, token)
            return missing
        return tf.equal(values, ABSENT_INT)

    def _ids(self, field, values, missing):
        kind = self.kinds[field.name]
        if kind == ID:
            return range_ids(values, field.vocab_size)
        keys = values
        if kind == INT:
            if field.name in self.discretise:
                values = log_squared(values)
            keys = tf.strings.as_string(values)
        return layout_ids(self.tables[field.name].lookup(keys), missing)

    def _list_ids(self, field, values):
        if isinstance(values, tf.RaggedTensor):
            lists = values
        else:
            values = tf.ensure_shape(values, [None, None])
            lists = tf.RaggedTensor.from_tensor(values)
        flat = lists.flat_values
        if self.kinds[field.name] == STRING:
            pad = self._missing(field, flat)
        else:
            pad = tf.equal(flat, tf.constant(PAD_ID, flat.dtype))
        lists = tf.ragged.boolean_mask(lists, tf.logical_not(lists.with_flat_values(pad)))
        ids = self._ids(field, lists.flat_values, tf.zeros_like(lists.flat_values, tf.bool))
        return padded_token_ids(lists.with_flat_values(ids), field.max_len)


def write_values(path, values):
    """Writes one value per line (checked: no empty value, no line break)."""
    for i, value in enumerate(values):
        if not value or "\n" in value or "\r" in value:
            raise ValueError(
                f"{os.path.basename(path)}: value {i} ({value!r}) is empty or "
                "holds a line break; vocabulary files hold one value per line."
            )
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(v + "\n" for v in values))


def value_table(path):
    """A `StaticHashTable` value -> line number (`-1` when absent)."""
    initializer = tf.lookup.TextFileInitializer(
        path,
        key_dtype=tf.string,
        key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        value_dtype=tf.int64,
        value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
    )
    return tf.lookup.StaticHashTable(initializer, default_value=-1)
