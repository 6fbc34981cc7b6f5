"""Constants and checks shared by the SavedModel exporter."""

import json

SERVING_DEFAULT = "serving_default"
EXAMPLES = "examples"
CLASSIFY = "classify"
REGRESS = "regress"
PROBABILITY = "probability"

PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
METHOD_NAMES = {
    SERVING_DEFAULT: PREDICT_METHOD,
    EXAMPLES: PREDICT_METHOD,
    CLASSIFY: CLASSIFY_METHOD,
    REGRESS: REGRESS_METHOD,
}

ASSETS_EXTRA = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
METADATA_FILE = "dimgrow_export.json"
CLASS_LABELS = ("0", "1")

OOV_POLICY = (
    "Each exported table has one extra row at index vocab_size, the OOV "
    "bucket. Integer ids outside [0, vocab_size), strings missing from the "
    "vocabulary and fields missing from a tf.Example all map to it. Its "
    "embedding is the field's moving mean (searched model) or the mean of "
    "its table rows (retrained model)."
)


def check_vocabularies(vocabularies, kept_fields, dropped):
    """Validates `{field: [str, ...]}` and returns it for the kept fields.

    Index `i` of a field's list is id `i`, so the list may not be longer
    than the field's `vocab_size`, may not repeat a value, and (as it is
    stored one value per line in an asset file) may not hold empty strings
    or line breaks.
    Vocabularies of dropped fields are accepted and ignored.
    """
    vocabularies = dict(vocabularies or {})
    kept = {f.name: f for f in kept_fields}
    unknown = sorted(set(vocabularies) - set(kept) - set(dropped))
    if unknown:
        raise ValueError(
            f"`vocabularies` names unknown field(s) {unknown}. "
            f"Fields of the model: {sorted(set(kept) | set(dropped))}."
        )
    checked = {}
    for name, values in vocabularies.items():
        if name not in kept:
            continue
        if isinstance(values, (str, bytes)):
            raise TypeError(
                f"Vocabulary of field {name!r} must be a list of strings, "
                f"not one {type(values).__name__}."
            )
        values = [_as_text(name, v) for v in values]
        if not values:
            raise ValueError(f"Vocabulary of field {name!r} is empty.")
        if len(values) > kept[name].vocab_size:
            raise ValueError(
                f"Vocabulary of field {name!r} has {len(values)} entries but "
                f"the field has vocab_size={kept[name].vocab_size} ids."
            )
        seen = set()
        for i, value in enumerate(values):
            if value in seen:
                raise ValueError(
                    f"Vocabulary of field {name!r} repeats {value!r} (index {i})."
                )
            seen.add(value)
            if "\n" in value or "\r" in value or not value:
                raise ValueError(
                    f"Vocabulary of field {name!r}: entry {i} ({value!r}) is empty "
                    "or holds a line break; vocabulary files are one entry per "
                    "line. Map such values to a token first."
                )
        checked[name] = values
    return checked


def _as_text(name, value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if not isinstance(value, str):
        raise TypeError(
            f"Vocabulary of field {name!r} must hold strings. Received "
            f"{value!r} of type {type(value).__name__}."
        )
    return value


def check_model_name(model_name):
    """Rejects names TF Serving cannot use as a directory and model name."""
    if not isinstance(model_name, str) or not model_name:
        raise ValueError(f"`model_name` must be a non-empty string: {model_name!r}")
    bad = [c for c in model_name if not (c.isalnum() or c in "_-.")]
    if bad or model_name.startswith("."):
        raise ValueError(
            f"`model_name` {model_name!r} may hold letters, digits, '_', '-' "
            "and '.' only, and may not start with '.'."
        )


def metadata(model_name, version, folded, vocabularies, prune_gates):
    """The JSON description written to `assets.extra/dimgrow_export.json`."""
    import keras
    import tensorflow as tf

    from dimgrow_tf import __version__

    fields = []
    for f in folded.fields:
        entry = {
            "name": f.name,
            "dtype": "string" if f.name in vocabularies else "int64",
            "vocab_size": f.vocab_size,
            "dim": f.dim,
            "oov_id": f.vocab_size,
        }
        if f.name in vocabularies:
            entry["vocabulary_size"] = len(vocabularies[f.name])
        fields.append(entry)
    return json.dumps(
        {
            "model_name": model_name,
            "version": version,
            "source": folded.source,
            "prune_gates": bool(prune_gates),
            "fields": fields,
            "dropped_fields": list(folded.dropped),
            "output_dim": folded.output_dim,
            "total_dims": sum(f.dim for f in folded.fields),
            "signatures": {
                SERVING_DEFAULT: {"inputs": [f.name for f in folded.fields],
                                  "outputs": [PROBABILITY]},
                EXAMPLES: {"inputs": [EXAMPLES], "outputs": [PROBABILITY]},
                CLASSIFY: {"inputs": ["inputs"], "outputs": ["classes", "scores"]},
                REGRESS: {"inputs": ["inputs"], "outputs": ["outputs"]},
            },
            "oov_policy": OOV_POLICY,
            "dimgrow_tf_version": __version__,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
        },
        indent=1,
    )
