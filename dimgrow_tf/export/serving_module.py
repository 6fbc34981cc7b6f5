"""The `tf.Module` and the four signatures written into an export."""

import os

import tensorflow as tf

from dimgrow_tf.export import export_utils as eu
from dimgrow_tf.export.compact_model import unchecked_forward

MISSING_STRING = "\n"


def build_serving_module(compact, fields, vocabularies, asset_dir):
    """Wraps a compact model into a savable `tf.Module` with signatures.

    Signatures (all return float32 probabilities of shape `(batch,)` or,
    for `classify`, `(batch, 2)`):

    - `serving_default` (predict): one input per kept field, named after
      it, shape `(batch,)`: `int64` ids, or `string` values for fields with
      a vocabulary (looked up inside the graph). Output `probability`.
    - `examples` (predict): `examples`, serialized `tf.Example` protos with
      one value per field (`int64_list` ids or `bytes_list` strings).
      Output `probability`.
    - `classify` (classify): `inputs` (serialized `tf.Example`); outputs
      `classes` (`[["0", "1"]]` per row) and `scores` (`[1 - p, p]`).
    - `regress` (regress): `inputs`; output `outputs` (`p`).

    Out-of-vocabulary values and fields missing from a `tf.Example` map to
    the OOV bucket (`eu.OOV_POLICY`). Bad requests fail with errors naming
    the field: a tensor that is not 1-D with `Shape of tensor <field> [...]
    is not compatible with expected shape [?]`, a `tf.Example` with two
    values or the wrong list type with `Key: <field>, Index: <row>. Number
    of int64 values != expected` / `Data types don't match`.

    Only the variables the traced inference graph reads are tracked, so
    the export holds no shuffle seeds, gate logits or optimizer state.

    Args:
        compact: the compact `keras.Model` (see `compact_model`).
        fields: list of FieldConfig of its inputs, with the trained
            `vocab_size` (the OOV id).
        vocabularies: dict `{field: [str]}` (checked) for string fields.
        asset_dir: str. Scratch directory for the vocabulary files; they
            are copied into the export's `assets/`.

    Returns:
        `(module, signatures)` to pass to `tf.saved_model.save`.
    """
    module = tf.Module()
    module.vocab_tables = {
        name: _vocab_table(name, values, _field(fields, name).vocab_size, asset_dir)
        for name, values in vocabularies.items()
    }
    tables = dict(module.vocab_tables)

    raw_specs = {
        f.name: tf.TensorSpec(
            [None], tf.string if f.name in tables else tf.int64, name=f.name
        )
        for f in fields
    }
    id_specs = {f.name: tf.TensorSpec([None], tf.int32, name=f.name) for f in fields}

    # Each piece is traced once and shared by the signatures that use it,
    # so the graph holds one copy of the model and of the example parser.
    @tf.function(input_signature=[id_specs])
    def infer(ids):
        prob = unchecked_forward(compact, ids)
        return tf.reshape(tf.cast(prob, tf.float32), [-1])

    def to_ids(raw):
        ids = {}
        for f in fields:
            values = tf.ensure_shape(raw[f.name], [None])
            if f.name in tables:
                field_ids = tables[f.name].lookup(values)
            else:
                in_range = (values >= 0) & (values < f.vocab_size)
                field_ids = tf.where(in_range, values, f.vocab_size)
            ids[f.name] = tf.cast(field_ids, tf.int32)
        return ids

    # A missing feature takes a default that maps to the OOV bucket: -1, or
    # a line break, which no vocabulary entry may hold.
    example_spec = {
        f.name: tf.io.FixedLenFeature(
            [], tf.string, default_value=MISSING_STRING
        ) if f.name in tables else tf.io.FixedLenFeature([], tf.int64, default_value=-1)
        for f in fields
    }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def from_examples(serialized):
        return infer(to_ids(tf.io.parse_example(serialized, example_spec)))

    @tf.function(input_signature=[raw_specs])
    def serve(features):
        return {eu.PROBABILITY: infer(to_ids(features))}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=eu.EXAMPLES)])
    def serve_examples(examples):
        return {eu.PROBABILITY: from_examples(examples)}

    inputs_spec = tf.TensorSpec([None], tf.string, name="inputs")

    @tf.function(input_signature=[inputs_spec])
    def classify(inputs):
        prob = from_examples(inputs)
        labels = tf.constant([list(eu.CLASS_LABELS)])
        return {
            "classes": tf.tile(labels, [tf.shape(prob)[0], 1]),
            "scores": tf.stack([1.0 - prob, prob], axis=1),
        }

    @tf.function(input_signature=[inputs_spec])
    def regress(inputs):
        return {"outputs": from_examples(inputs)}

    signatures = {
        eu.SERVING_DEFAULT: serve.get_concrete_function(),
        eu.EXAMPLES: serve_examples.get_concrete_function(),
        eu.CLASSIFY: classify.get_concrete_function(),
        eu.REGRESS: regress.get_concrete_function(),
    }
    captured = {}
    traced = list(signatures.values()) + [infer.get_concrete_function()]
    for concrete in traced:
        for variable in concrete.graph.variables:
            captured[id(variable)] = variable
    module.inference_variables = list(captured.values())
    return module, signatures


def _field(fields, name):
    return next(f for f in fields if f.name == name)


def _vocab_table(name, values, oov_id, asset_dir):
    path = os.path.join(asset_dir, f"vocab_{name}.txt")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("".join(v + "\n" for v in values))
    initializer = tf.lookup.TextFileInitializer(
        path,
        key_dtype=tf.string,
        key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
        value_dtype=tf.int64,
        value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
    )
    return tf.lookup.StaticHashTable(initializer, default_value=oov_id)
