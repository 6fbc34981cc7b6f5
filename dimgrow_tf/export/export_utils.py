"""Constants and checks shared by the SavedModel exporter."""

import json
import os

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

ID_RULE = (
    "Ids follow the loader's Vocabulary layout in training, evaluation and "
    "serving: 0 = OOV (a value not kept in training, or an integer id "
    "outside [0, vocab_size)), 1 = missing (a missing token such as the "
    "empty string, or a feature absent from a tf.Example), 2.. = the kept "
    "training values. The exported tables are the model's own rows."
)
WIDTHS = {
    "current": "the searched model's widths at its last step, gates folded "
               "exactly; pass the search result to export its final dims",
    "search_result": "the search result's final dims: per field the columns "
                     "with the highest gates, the others replaced by their "
                     "moving mean (approximate)",
    "gates": "prune_gates=True: the current gates > 0.5, the others replaced "
             "by their moving mean (approximate)",
    "fixed": "the retrained model's widths, copied exactly",
}


def check_vocabulary(vocabulary, kept_fields, dropped):
    """Returns a `Vocabulary` matching the model, or None.

    Args:
        vocabulary: `Vocabulary`, the path of its JSON (as the loaders and
            `dimgrow search` write it), its `get_config()` dict, or None.
        kept_fields: FieldConfigs of the exported fields.
        dropped: names of the model's dropped fields.

    Raises:
        ValueError: a field the model lacks, or a field whose vocabulary
            size (2 + kept values) differs from the model's table.
        TypeError: anything else, e.g. the old `{field: [str]}` form.
    """
    from dimgrow_tf.data.vocabulary import Vocabulary

    if vocabulary is None:
        return None
    if isinstance(vocabulary, (str, os.PathLike)):
        vocabulary = Vocabulary.load(vocabulary)
    elif isinstance(vocabulary, dict) and "format" in vocabulary:
        vocabulary = Vocabulary.from_config(vocabulary)
    if not isinstance(vocabulary, Vocabulary):
        raise TypeError(
            "`vocabulary` must be the loader's `Vocabulary` (or its JSON "
            "file), whose ids are 0 = OOV, 1 = missing, 2.. = values. A "
            "{field: [str]} mapping is not accepted: build "
            "`Vocabulary({field: values})` instead. Received: "
            f"{type(vocabulary).__name__}."
        )
    kept = {f.name: f for f in kept_fields}
    unknown = sorted(set(vocabulary.field_names) - set(kept) - set(dropped))
    if unknown:
        raise ValueError(
            f"The vocabulary names field(s) {unknown} that the model lacks. "
            f"Fields of the model: {sorted(set(kept) | set(dropped))}."
        )
    for name in vocabulary.field_names:
        if name in kept and vocabulary.kinds[name] in ("list", "text") \
                and not kept[name].multivalent:
            raise ValueError(
                f"Field {name!r} has kind {vocabulary.kinds[name]!r} in the "
                "vocabulary (a list of ids per row) but the model takes one id "
                "per row (no combiner).")
        if name in kept and vocabulary.vocab_size(name) != kept[name].vocab_size:
            raise ValueError(
                f"Field {name!r}: the vocabulary gives "
                f"{vocabulary.vocab_size(name)} ids (2 + "
                f"{len(vocabulary.values(name))} values) but the model's "
                f"table has vocab_size={kept[name].vocab_size}. Export with "
                "the vocabulary the model was trained with."
            )
    return vocabulary


def check_tokenizers(tokenizers, kept_fields, dropped, vocabulary=None):
    """Returns `{field: TextTokenizer}` of the kept text fields, or `{}`:
    those of `tokenizers` and the `"text"` fields of `vocabulary`.

    Raises:
        ValueError: a field the model lacks, one that is not multi-valent,
            one the vocabulary also names, or a tokenizer whose vocabulary
            size differs from the field's table.
    """
    kept = {f.name: f for f in kept_fields}
    tokenizers = dict(tokenizers or {})
    both = sorted(set(tokenizers) & set(vocabulary.field_names if vocabulary else ()))
    if both:
        raise ValueError(f"Field(s) {both} have both a tokenizer and a vocabulary "
                         "entry (a vocabulary's text fields bring their tokenizer).")
    for name in (vocabulary.text_fields if vocabulary is not None else ()):
        if name in kept:
            tokenizers[name] = vocabulary.tokenizer(name)
    out = {}
    for name, tokenizer in tokenizers.items():
        if name in dropped:
            continue
        if name not in kept:
            raise ValueError(f"`tokenizers` names field {name!r} that the model lacks. "
                             f"Fields of the model: {sorted(set(kept) | set(dropped))}.")
        if not kept[name].multivalent:
            raise ValueError(f"Text field {name!r} must be multi-valent (a combiner).")
        if tokenizer.vocab_size != kept[name].vocab_size:
            raise ValueError(
                f"Field {name!r}: the tokenizer gives {tokenizer.vocab_size} ids but "
                f"the model's table has vocab_size={kept[name].vocab_size}. Export "
                "with the tokenizer the model was trained with.")
        out[name] = tokenizer
    return out


def check_layout_sizes(kept_fields):
    """Every exported field needs the ids 0 (OOV) and 1 (missing)."""
    small = [f.name for f in kept_fields if f.vocab_size < 2]
    if small:
        raise ValueError(
            f"Fields {small} have vocab_size < 2; exported ids need 0 (OOV) "
            "and 1 (missing)."
        )


def serving_dtypes(fields, kinds):
    """`{field: "int64" | "string" | "int64_list" | "string_list"}`: the
    request schema of an export (`request_utils`); `*_list` for
    multi-valent fields, `"string"` for text fields (one text per row)."""
    return {
        f.name: ("string" if kinds[f.name] in ("string", "text") else "int64")
        + ("_list" if f.multivalent and kinds[f.name] != "text" else "")
        for f in fields
    }


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


def metadata(model_name, version, folded, kinds, vocabulary, prune_gates,
             result=None, tokenizers=None, custom_ops=()):
    """The JSON description written to `assets.extra/dimgrow_export.json`."""
    import tensorflow as tf

    from dimgrow_tf import __version__
    from dimgrow_tf.backend_compat import keras

    fields = []
    for f in folded.fields:
        entry = {
            "name": f.name,
            "dtype": serving_dtypes([f], kinds)[f.name],
            "kind": kinds[f.name],
            "vocab_size": f.vocab_size,
            "dim": f.dim,
        }
        if f.multivalent:
            entry["combiner"] = f.combiner
        if kinds[f.name] == "text":
            tokenizer = tokenizers[f.name]
            entry["tokenizer"] = {"kind": tokenizer.kind, "lowercase": tokenizer.lowercase,
                                  "max_len": tokenizer.max_len}
        elif kinds[f.name] != "id":
            entry["vocabulary_values"] = len(vocabulary.values(f.name))
            entry["missing_tokens"] = list(vocabulary.missing)
            entry["discretised"] = f.name in vocabulary.discretise
        fields.append(entry)
    return json.dumps(
        {
            "model_name": model_name,
            "version": version,
            "source": folded.source,
            "widths": folded.widths,
            "widths_reason": WIDTHS[folded.widths],
            "widths_notes": list(folded.notes),
            "search_result_dims": dict(result.dims) if result is not None else None,
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
            "ids": {"oov": 0, "missing": 1, "first_value": 2},
            "custom_ops": list(custom_ops),
            "id_rule": ID_RULE,
            "dimgrow_tf_version": __version__,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
        },
        indent=1,
    )
