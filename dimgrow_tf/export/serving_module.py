"""The one serving-signature builder of the library exporter and TFX."""

import tensorflow as tf

from dimgrow_tf.export import export_utils as eu
from dimgrow_tf.export import saved_model_utils as smu
from dimgrow_tf.export.compact_model import EMBEDDING_NAME
from dimgrow_tf.export.compact_model import unchecked_forward


def build_serving_module(compact, features):
    """Wraps a compact model into a savable `tf.Module` with signatures.

    Signatures (all return float32 probabilities of shape `(batch,)` or,
    for `classify`, `(batch, 2)`):

    - `serving_default` (predict): `features.input_signature`, one input
      per field, shape `(batch,)` (a multi-valent field: `(batch, length)`
      padded lists). Output `probability`.
    - `examples` (predict): `examples`, serialized `tf.Example` protos
      parsed with `features.example_spec`. Output `probability`.
    - `classify` (classify): `inputs` (serialized `tf.Example`); outputs
      `classes` (`[["0", "1"]]` per row) and `scores` (`[1 - p, p]`).
    - `regress` (regress): `inputs`; output `outputs` (`p`).

    Raw values become ids through `features(raw)`: `RawFeatures` (the
    library export, the `Vocabulary` rule) or the TFX module's Transform
    features, which apply the same rule (`raw_features.layout_ids`). Bad
    requests fail with errors naming the field: a tensor that is not 1-D
    with `Shape of tensor <field> [...] is not compatible with expected
    shape [?]`, a `tf.Example` with two values or the wrong list type with
    `Key: <field>, Index: <row>. Number of int64 values != expected` /
    `Data types don't match`.

    Only the variables the traced inference graph reads are tracked, so
    the export holds no shuffle seeds, gate logits or optimizer state.

    Args:
        compact: the compact `keras.Model` (see `compact_model`).
        features: the raw-feature mapper: `input_signature`,
            `example_spec` and `__call__(raw) -> {field: int32 ids}` with
            ids in `[0, vocab_size)`; a trackable (`tf.Module` or Keras
            layer) so that its tables are saved.

    Returns:
        `(module, signatures)`; write them with `save_serving_module`.
    """
    module = tf.Module()
    module.features = features
    fields = compact.get_layer(EMBEDDING_NAME).input_fields
    id_specs = {
        f.name: tf.TensorSpec([None, None] if f.multivalent else [None], tf.int32,
                              name=f.name)
        for f in fields
    }
    example_spec = dict(features.example_spec)

    def to_ids(raw):
        ids = features(raw)
        return {
            f.name: tf.cast(ids[f.name] if f.multivalent else tf.reshape(ids[f.name], [-1]),
                            tf.int32)
            for f in fields
        }

    # Each piece is traced once and shared by the signatures that use it,
    # so the graph holds one copy of the model and of the example parser.
    @tf.function(input_signature=[id_specs])
    def infer(ids):
        prob = unchecked_forward(compact, ids)
        return tf.reshape(tf.cast(prob, tf.float32), [-1])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def from_examples(serialized):
        return infer(to_ids(tf.io.parse_example(serialized, example_spec)))

    @tf.function(input_signature=[dict(features.input_signature)])
    def serve(raw):
        return {eu.PROBABILITY: infer(to_ids(raw))}

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


def save_serving_module(module, signatures, export_dir):
    """Saves a module from `build_serving_module` for TF Serving.

    Writes the SavedModel, then sets the classify/regress method names and
    clears every device string (`saved_model_utils.finalize_saved_model`).
    """
    tf.saved_model.save(module, export_dir, signatures=signatures)
    smu.finalize_saved_model(export_dir, eu.METHOD_NAMES)
