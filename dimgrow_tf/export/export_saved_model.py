"""Public entry point: a compact, versioned SavedModel for TF Serving."""

import posixpath
import shutil
import tempfile

import tensorflow as tf

from dimgrow_tf.export import export_utils as eu
from dimgrow_tf.export import saved_model_utils as smu
from dimgrow_tf.export.compact_model import build_compact
from dimgrow_tf.export.serving_config import write_models_config
from dimgrow_tf.export.serving_module import build_serving_module
from dimgrow_tf.export.warmup_utils import sample_rows
from dimgrow_tf.export.warmup_utils import write_warmup_requests


def export_saved_model(
    model,
    export_base,
    model_name="dimgrow",
    version=None,
    vocabularies=None,
    prune_gates=False,
    warmup=True,
    warmup_features=None,
    write_config=True,
):
    """Exports a searched or retrained model as a compact SavedModel.

    The model is first frozen with `compact_model` (gates and shuffle
    folded into the weights, fields at width 0 dropped, tables at their
    final widths plus one OOV row, layers after the embedding copied in
    inference mode). Then `<export_base>/<model_name>/<version>/` is
    written in TF Serving's layout:

    - `saved_model.pb` + `variables/`: only the variables the inference
      graph reads; no device string anywhere, so the same export runs on
      the CPU and GPU `tensorflow/serving` images;
    - signatures `serving_default` (one input per kept field: `int64` ids,
      or `string` values looked up in the graph for fields given in
      `vocabularies`; output `probability`, shape `(batch,)`), `examples`
      (serialized `tf.Example` -> `probability`), `classify` and `regress`
      (TF Serving's Classify/Regress APIs; input `inputs`);
    - `assets/vocab_<field>.txt` for string fields;
    - `assets.extra/tf_serving_warmup_requests`: Predict, Classify and
      Regress requests at batch 1 and 8 built from real rows;
    - `assets.extra/dimgrow_export.json`: fields, dims, dtypes, OOV ids.

    **OOV policy.** Integer ids outside `[0, vocab_size)`, strings not in
    the vocabulary and fields absent from a `tf.Example` map to the OOV
    bucket, id `vocab_size`, whose embedding is the field's moving mean
    (searched model) or the mean of its table rows (retrained model).
    In-vocabulary rows predict exactly what the model predicts.

    The version is written to a hidden staging directory next to the
    versions and renamed into place when complete: an interrupted export
    never leaves a partial version (the staging directory is removed on
    errors). Versions are never overwritten. `models.config` in
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
        vocabularies: dict `{field: list of str}` or None. Index `i` of a
            list is id `i` (so at most `vocab_size` distinct, non-empty
            entries without line breaks); those fields take strings, looked
            up in the graph. Defaults to `None`.
        prune_gates: bool. Searched models only: also drop columns whose
            gate is <= 0.5 (approximate; see `compact_model`). Defaults to
            `False` (exact fold).
        warmup: bool. Write the warmup requests (needs
            `tensorflow-serving-api`). Defaults to `True`.
        warmup_features: dict `{field: values}` or None. Real rows for the
            warmup requests (e.g. the first validation rows). Defaults to
            `None` (ids spread over each vocabulary).
        write_config: bool. Rewrite `<export_base>/models.config`.
            Defaults to `True`.

    Returns:
        str: the version directory written.

    Example:

    ```python
    retrained = dimgrow_tf.build_model(search.result())
    retrained.fit(train_ds, epochs=5)
    path = dimgrow_tf.export_saved_model(retrained, "exports")
    # exports/dimgrow/1/ ; serve with tensorflow/serving (see serving/)
    loaded = tf.saved_model.load(path)
    loaded.signatures["serving_default"](
        user_id=tf.constant([3], tf.int64), item_id=tf.constant([7], tf.int64)
    )["probability"]
    ```
    """
    eu.check_model_name(model_name)
    compact, folded = build_compact(model, prune_gates=prune_gates)
    vocabularies = eu.check_vocabularies(vocabularies, folded.fields, folded.dropped)
    model_dir = posixpath.join(str(export_base), model_name)
    tf.io.gfile.makedirs(model_dir)
    version = smu.resolve_version(model_dir, version)
    staging = smu.staging_dir(model_dir, version)
    final = posixpath.join(model_dir, str(version))
    scratch = tempfile.mkdtemp(prefix="dimgrow_vocab_")
    try:
        module, signatures = build_serving_module(
            compact, folded.fields, vocabularies, scratch
        )
        tf.saved_model.save(module, staging, signatures=signatures)
        smu.finalize_saved_model(staging, eu.METHOD_NAMES)
        extra = posixpath.join(staging, eu.ASSETS_EXTRA)
        tf.io.gfile.makedirs(extra)
        with tf.io.gfile.GFile(posixpath.join(extra, eu.METADATA_FILE), "w") as fh:
            fh.write(eu.metadata(model_name, version, folded, vocabularies, prune_gates))
        if warmup:
            rows = sample_rows(folded.fields, vocabularies, features=warmup_features)
            write_warmup_requests(staging, model_name, rows)
        smu.publish(staging, final)
    except BaseException:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if write_config:
        write_models_config(str(export_base))
    return final
