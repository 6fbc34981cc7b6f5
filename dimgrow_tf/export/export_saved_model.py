"""Public entry point: a compact, versioned SavedModel for TF Serving."""

import os
import posixpath
import shutil
import tempfile
import warnings

import tensorflow as tf

from dimgrow_tf.export import export_utils as eu
from dimgrow_tf.export import saved_model_utils as smu
from dimgrow_tf.export.compact_model import build_compact
from dimgrow_tf.export.serving_config import write_models_config
from dimgrow_tf.export.raw_features import RawFeatures
from dimgrow_tf.export.raw_features import field_kinds
from dimgrow_tf.export.serving_module import build_serving_module
from dimgrow_tf.export.serving_module import save_serving_module
from dimgrow_tf.export.warmup_utils import sample_rows
from dimgrow_tf.export.warmup_utils import write_warmup_requests


def export_saved_model(
    model,
    export_base,
    model_name="dimgrow",
    version=None,
    vocabulary=None,
    prune_gates=False,
    warmup=True,
    warmup_features=None,
    write_config=True,
    result=None,
    tokenizers=None,
):
    """Exports a searched or retrained model as a compact SavedModel.

    The model is first frozen with `compact_model` (gates and shuffle
    folded into the weights, fields at width 0 dropped, layers after the
    embedding copied in inference mode). Then
    `<export_base>/<model_name>/<version>/` is written in TF Serving's
    layout:

    - `saved_model.pb` + `variables/`: only the variables the inference
      graph reads; no device string anywhere, so the same export runs on
      the CPU and GPU `tensorflow/serving` images;
    - signatures `serving_default` (one input per kept field: raw
      `string` values for `"str"` fields of `vocabulary`, raw `int64`
      values for its `"int"` fields, `int64` ids for fields without one;
      output `probability`, shape `(batch,)`), `examples` (serialized
      `tf.Example` -> `probability`), `classify` and `regress` (TF
      Serving's Classify/Regress APIs; input `inputs`);
    - `assets/vocab_<field>.txt`, the kept values of vocabulary fields;
    - `assets.extra/tf_serving_warmup_requests`: Predict, Classify and
      Regress requests at batch 1 and 8, built by `request_utils` as the
      clients build them;
    - `assets.extra/dimgrow_export.json`: fields, kinds, dims, which
      widths were serialised and why, the id rule.

    **Ids: one rule everywhere** (`raw_features`). Raw values map to
    exactly the ids the loader's `Vocabulary` gives: a kept value to its
    id (2..), a value not kept to 0 (OOV), a missing token (the empty
    string by default) or a feature absent from a `tf.Example` to 1
    (missing); an integer id outside `[0, vocab_size)` maps to 0. The
    served prediction is the Keras model's prediction on those ids.

    **Widths.** A retrained model is copied at its widths. A searched
    model is folded at its current (last-step) widths, exactly, unless
    `result` (its `SearchResult`) is given: then the result's final dims
    are serialised (approximate; see `compact_model`). The metadata's
    `widths` and `widths_reason` say which.

    Nothing is written before every check has passed. The version is
    written to a hidden staging directory next to the versions and renamed
    into place when complete: an interrupted or failed export leaves no
    version (the staging directory, and directories this call created,
    are removed). Versions are never overwritten. `models.config` in
    `export_base` is rewritten to list every model there.

    Args:
        model: a functional Keras model with a `DimGrowEmbedding` (searched
            model) or a `FixedFieldEmbedding` (e.g. from `build_model`).
        export_base: str. Base directory (local or any `tf.io.gfile`
            path; the rename is atomic on POSIX file systems).
        model_name: str. Model name and directory. Defaults to
            `"dimgrow"`.
        version: int or None. Version number; `None` takes one more than
            the newest existing version (1 for the first). Defaults to
            `None`.
        vocabulary: `Vocabulary` or the path of its JSON (e.g. the
            `vocabulary.json` of `dimgrow search`), or None. Its fields
            take raw values; the others take ids. Defaults to `None`.
        prune_gates: bool. Searched models only: also drop columns whose
            gate is <= 0.5 (approximate; see `compact_model`). Defaults to
            `False` (exact fold).
        warmup: bool. Write the warmup requests (needs
            `tensorflow-serving-api`). Defaults to `True`.
        warmup_features: dict `{field: raw values}` or None. Real rows for
            the warmup requests (e.g. the first validation rows). Defaults
            to `None` (values spread over each vocabulary).
        write_config: bool. Rewrite `<export_base>/models.config`.
            Defaults to `True`.
        result: SearchResult, the path of its JSON, or None. Searched
            models only: serialise its final dims. Defaults to `None`.
        tokenizers: dict `{field: TextTokenizer}` or None. Text fields:
            each takes one raw string per row, tokenized in the serving
            graph by the tokenizer the field was trained with. Which ops
            beyond core TensorFlow the graph needs (tensorflow-text's, for
            a WordPiece tokenizer) is written to the metadata's
            `custom_ops`. Defaults to `None`.

    Returns:
        str: the version directory written.

    Example:

    ```python
    data = dimgrow_tf.load_arrays(spec)             # fits data.vocabulary
    retrained = dimgrow_tf.build_model(search.result())
    retrained.fit(...)
    path = dimgrow_tf.export_saved_model(retrained, "exports",
                                         vocabulary=data.vocabulary)
    loaded = tf.saved_model.load(path)
    loaded.signatures["serving_default"](
        user=tf.constant(["u17"]), item=tf.constant([""])   # "" = missing
    )["probability"]
    ```
    """
    from dimgrow_tf.models.search_result import SearchResult

    eu.check_model_name(model_name)
    if isinstance(result, (str, os.PathLike)):
        result = SearchResult.load(result)
    compact, folded = build_compact(model, prune_gates=prune_gates, result=result)
    eu.check_layout_sizes(folded.fields)
    vocabulary = eu.check_vocabulary(vocabulary, folded.fields, folded.dropped)
    tokenizers = eu.check_tokenizers(tokenizers, folded.fields, folded.dropped, vocabulary)
    kinds = field_kinds(folded.fields, vocabulary, tokenizers)
    schema = eu.serving_dtypes(folded.fields, kinds)
    rows = sample_rows(folded.fields, kinds, vocabulary,
                       features=warmup_features) if warmup else None
    model_dir = posixpath.join(str(export_base), model_name)
    version = smu.resolve_version(model_dir, version)
    final = posixpath.join(model_dir, str(version))
    scratch = tempfile.mkdtemp(prefix="dimgrow_vocab_")
    created = [d for d in (str(export_base), model_dir) if not tf.io.gfile.exists(d)]
    staging = None
    try:
        features = RawFeatures(folded.fields, vocabulary, scratch, tokenizers)
        module, signatures = build_serving_module(compact, features)
        tf.io.gfile.makedirs(model_dir)
        staging = smu.staging_dir(model_dir, version)
        save_serving_module(module, signatures, staging)
        extra = posixpath.join(staging, eu.ASSETS_EXTRA)
        tf.io.gfile.makedirs(extra)
        with tf.io.gfile.GFile(posixpath.join(extra, eu.METADATA_FILE), "w") as fh:
            fh.write(eu.metadata(model_name, version, folded, kinds, vocabulary,
                                 prune_gates, result, tokenizers,
                                 smu.non_core_ops(staging)))
        if warmup:
            write_warmup_requests(staging, model_name, rows, schema)
        smu.publish(staging, final)
    except BaseException:
        if staging is not None and tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
        for directory in reversed(created):
            if tf.io.gfile.isdir(directory) and not tf.io.gfile.listdir(directory):
                tf.io.gfile.rmtree(directory)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for note in folded.notes:
        warnings.warn(f"Export widths: {note}.")
    if write_config:
        write_models_config(str(export_base))
    return final
