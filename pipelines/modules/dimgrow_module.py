"""TFX module file: `preprocessing_fn` (Transform) and `run_fn` (Trainer).

Every CSV column except `label` is a categorical field. Transform maps each
field's raw values (strings or integers) to ids in the loader's layout
(`dimgrow_tf.data.vocabulary`): 0 = OOV (a value not in the vocabulary
computed on the train split), 1 = missing (absent, or the empty string),
2.. = the vocabulary's values, with the same code as the library export
(`dimgrow_tf.export.raw_features.layout_ids`). `run_fn` runs a DimGrow
search on the transformed ids, retrains a fixed-width model at the searched
dims, keeps it or the search model folded at those dims (`final_model`,
by validation AUC) and writes the serving export with the library's signature builder
(`dimgrow_tf.export.serving_module`): `serving_default`, `examples`,
`classify` and `regress` all take *raw* values and apply the Transform
graph itself.

The search result (final dims, gates, resize history) is a Trainer output:
`SEARCH_RESULT_FILE` in the `model_run` artifact and in the serving model's
`assets.extra/` (so it is pushed together with the model it describes).
"""

import dataclasses
import json
import os
from typing import Any, Dict, Optional

# Before TensorFlow Transform (which sets TF_USE_LEGACY_KERAS=1) and
# dimgrow_tf: this module's models are Keras 3 (dimgrow_tf.backend_compat).
os.environ.setdefault("DIMGROW_KERAS", "keras")

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

import dimgrow_tf as dg
from dimgrow_tf.data.vocabulary import FIRST_VALUE_ID
from dimgrow_tf.export import compact_model
from dimgrow_tf.export import export_utils as eu
from dimgrow_tf.export.raw_features import layout_ids
from dimgrow_tf.export.serving_module import build_serving_module
from dimgrow_tf.export.serving_module import save_serving_module
from dimgrow_tf.layers.backbone_utils import check_backbone

if not dg.backend_compat.KERAS_3:
    raise ImportError(
        "dimgrow_tf was imported on tf_keras before this module: set "
        "DIMGROW_KERAS=keras in the Trainer's environment (TensorFlow Transform "
        "sets TF_USE_LEGACY_KERAS=1, which dimgrow_tf otherwise follows)."
    )

LABEL_KEY = "label"
SEARCH_RESULT_FILE = "dimgrow_search_result.json"
SERVING_SIGNATURE = eu.EXAMPLES
PROBABILITY = eu.PROBABILITY


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """The Trainer's `custom_config`, typed and flat.

    Every key is a field of `dimgrow_tf.TrainSettings` (batch_size, epochs,
    patience, learning_rate, backbone, output_dim, seed) or of
    `dimgrow_tf.SearchConfig` (alpha, regularizer, low, high, max_dim,
    budget, budget_bytes, window, check_every, settle_checks, monitor, mode,
    gate_updates, gate_learning_rate, final_dims, final_model), with their
    defaults, plus:

    Args:
        retrain_epochs: int or None. Maximum retrain epochs; `None` uses
            `epochs`. Defaults to `None`.
        eval_batch_size: int. Defaults to `4096`.
    """

    alpha: float = dg.SearchConfig.alpha
    regularizer: str = dg.SearchConfig.regularizer
    low: float = dg.SearchConfig.low
    high: float = dg.SearchConfig.high
    max_dim: int = dg.SearchConfig.max_dim
    budget: int = dg.SearchConfig.budget
    budget_bytes: Optional[int] = dg.SearchConfig.budget_bytes
    window: int = dg.SearchConfig.window
    check_every: int = dg.SearchConfig.check_every
    settle_checks: Optional[int] = dg.SearchConfig.settle_checks
    monitor: str = dg.SearchConfig.monitor
    mode: str = dg.SearchConfig.mode
    gate_updates: str = dg.SearchConfig.gate_updates
    gate_learning_rate: float = dg.SearchConfig.gate_learning_rate
    final_dims: str = dg.SearchConfig.final_dims
    final_model: str = dg.SearchConfig.final_model
    batch_size: int = dg.TrainSettings.batch_size
    epochs: int = dg.TrainSettings.epochs
    patience: int = dg.TrainSettings.patience
    learning_rate: float = dg.TrainSettings.learning_rate
    backbone: str = dg.TrainSettings.backbone
    output_dim: int = dg.TrainSettings.output_dim
    seed: int = dg.TrainSettings.seed
    retrain_epochs: Optional[int] = None
    eval_batch_size: int = 4096

    def __post_init__(self):
        self.train_settings(), self.search_config()  # validates
        # Before any training: 'dcn_v2' needs keras-rs (Python >= 3.11).
        check_backbone(self.backbone)

    @classmethod
    def from_custom_config(
        cls, config: Optional[Dict[str, Any]]
    ) -> "Hyperparameters":
        """Builds from a `custom_config` dict; unknown keys raise."""
        config = dict(config or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(
                f"Unknown DimGrow hyperparameter(s) {unknown}; "
                f"known: {sorted(known)}."
            )
        return cls(**config)

    def _pick(self, target):
        names = {f.name for f in dataclasses.fields(target)}
        return target(**{k: v for k, v in dataclasses.asdict(self).items() if k in names})

    def train_settings(self) -> dg.TrainSettings:
        return self._pick(dg.TrainSettings)

    def search_config(self) -> dg.SearchConfig:
        return self._pick(dg.SearchConfig)

    def retrain_settings(self) -> dg.TrainSettings:
        return dataclasses.replace(
            self.train_settings(), epochs=self.retrain_epochs or self.epochs
        )


def _dense_column(x):
    """`(batch,)` values of a raw column (missing values -> "" or -1)."""
    if isinstance(x, tf.SparseTensor):
        default = "" if x.dtype == tf.string else tf.cast(-1, x.dtype)
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]),
            default_value=default,
        )
    return tf.reshape(x, [-1])


def _present_values(x):
    """`(values (batch,), missing (batch,) bool, present values)` of a raw
    column: a value is missing when absent (sparse input) or the empty
    string, as for the loader's `Vocabulary`."""
    values = _dense_column(x)
    if isinstance(x, tf.SparseTensor):
        rows = x.indices[:, 0]
        present = tf.scatter_nd(
            tf.expand_dims(rows, 1), tf.ones_like(rows, tf.bool),
            tf.cast(tf.expand_dims(x.dense_shape[0], 0), tf.int64))
        missing = tf.logical_not(present)
    else:
        missing = tf.zeros_like(values, tf.bool)
    if values.dtype == tf.string:
        missing = missing | tf.equal(values, "")
    return values, missing, tf.boolean_mask(values, tf.logical_not(missing))


def preprocessing_fn(inputs):
    """Maps each categorical column to the loader's ids `[0, vocab + 2)`."""
    outputs = {
        LABEL_KEY: tf.cast(_dense_column(inputs[LABEL_KEY]), tf.float32)
    }
    for name in sorted(inputs):
        if name == LABEL_KEY:
            continue
        values, missing, present = _present_values(inputs[name])
        vocabulary = tft.vocabulary(present, vocab_filename=name)
        index = tft.apply_vocabulary(values, vocabulary, default_value=-1)
        outputs[name] = tf.cast(layout_ids(index, missing), tf.int64)
    return outputs


def field_configs(tf_transform_output):
    """One width-1 `FieldConfig` per transformed categorical feature."""
    names = sorted(tf_transform_output.transformed_feature_spec())
    return [
        dg.FieldConfig(
            name,
            tf_transform_output.vocabulary_size_by_name(name) + FIRST_VALUE_ID,
        )
        for name in names
        if name != LABEL_KEY
    ]


def _input_fn(file_pattern, data_accessor, tf_transform_output, batch_size,
              shuffle, seed):
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size,
            num_epochs=1,
            shuffle=shuffle,
            shuffle_seed=seed,
            label_key=LABEL_KEY,
        ),
        tf_transform_output.transformed_metadata.schema,
    )

    def to_model_inputs(features, label):
        ids = {k: tf.cast(tf.reshape(v, [-1]), tf.int32) for k, v in features.items()}
        return ids, tf.reshape(label, [-1])

    return dataset.map(to_model_inputs)


def search_and_retrain(fields, train_ds, eval_ds, hp, log_dir=None):
    """Runs `dimgrow_tf.search_and_retrain` (the library's one path).

    The result records the hyperparameters (`result.settings`) and the
    wall times and epochs of both runs (`result.timings`).

    Returns:
        `(final model, SearchResult)`: the model `hp.final_model` keeps (the
        retrained one or the search model folded at the final dims).
    """
    callbacks = {}
    if log_dir:
        callbacks = {
            run: [keras.callbacks.TensorBoard(log_dir=os.path.join(log_dir, run))]
            for run in ("search", "retrain")
        }
    run = dg.search_and_retrain(
        fields, train_ds, eval_ds, hp.train_settings(), hp.search_config(),
        retrain_settings=hp.retrain_settings(), callbacks=callbacks, verbose=2,
    )
    result = run.result
    result.settings = dataclasses.asdict(hp)
    timings = dict(result.timings)
    result.timings = dict(
        timings, search_seconds=timings.pop("seconds"), search_epochs=timings.pop("epochs"),
    )
    return run.model, result


def write_search_result(result, directory):
    """Writes `SEARCH_RESULT_FILE` into `directory` (any TF filesystem)."""
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, SEARCH_RESULT_FILE), "w") as fh:
        fh.write(result.to_json(indent=1))


def read_search_result(directory):
    """Reads the `SearchResult` written by `write_search_result`."""
    with tf.io.gfile.GFile(os.path.join(directory, SEARCH_RESULT_FILE)) as fh:
        return dg.SearchResult.from_config(json.load(fh))


def raw_serving_feature_spec(tf_transform_output):
    """The raw tf.Example spec the serving signature parses (no label)."""
    spec = dict(tf_transform_output.raw_feature_spec())
    spec.pop(LABEL_KEY, None)
    return spec


def _as_raw(values, spec):
    """`(batch,)` values shaped like `tf.io.parse_example` parses `spec`."""
    if isinstance(values, tf.SparseTensor):
        return values
    if isinstance(spec, tf.io.FixedLenFeature):
        return tf.reshape(values, [-1] + list(spec.shape))
    batch = tf.shape(values, out_type=tf.int64)[0]
    indices = tf.stack([tf.range(batch), tf.zeros([batch], tf.int64)], axis=1)
    return tf.SparseTensor(indices, values, tf.stack([batch, 1]))


class TransformFeatures(tf.Module):
    """Raw features -> ids through the Transform graph.

    The raw-feature mapper that `dimgrow_tf.export.serving_module.
    build_serving_module` takes (like `dimgrow_tf.export.raw_features.
    RawFeatures` in the library export): `input_signature` (one `(batch,)`
    input per raw feature, Transform's raw dtype), `example_spec` (the raw
    feature spec without the label) and `__call__(raw) -> ids`.
    """

    def __init__(self, tf_transform_output, names):
        super().__init__(name="transform_features")
        self.tft_layer = tf_transform_output.transform_features_layer()
        self.raw_spec = raw_serving_feature_spec(tf_transform_output)
        self.names = list(names)

    @property
    def input_signature(self):
        return {name: tf.TensorSpec([None], spec.dtype, name=name)
                for name, spec in self.raw_spec.items()}

    @property
    def example_spec(self):
        return dict(self.raw_spec)

    def __call__(self, raw):
        raw = {name: _as_raw(raw[name], spec) for name, spec in self.raw_spec.items()}
        transformed = self.tft_layer(raw)
        return {n: tf.cast(tf.reshape(transformed[n], [-1]), tf.int32)
                for n in self.names}


def make_serving_module(compact, tf_transform_output):
    """Wraps a compact model into a savable module taking *raw* features.

    The signatures are those of the library export (`serving_default`,
    `examples`, `classify`, `regress`; see
    `dimgrow_tf.export.serving_module.build_serving_module`), with raw
    values mapped by the Transform graph (`TransformFeatures`), so serving
    sees exactly the training preprocessing and its id rule.

    Returns:
        `(module, signatures)` for `save_serving_module`.
    """
    names = [f.name for f in compact.get_layer("folded_embedding").input_fields]
    return build_serving_module(compact, TransformFeatures(tf_transform_output, names))


def run_fn(fn_args: tfx.components.FnArgs):
    """Trainer entry point: search, retrain, export, record the dims."""
    hp = Hyperparameters.from_custom_config(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

    # A factory: the search and the retrain each get a fresh dataset, so the
    # retrain's data order does not depend on the search's length.
    def train_ds():
        return _input_fn(
            fn_args.train_files, fn_args.data_accessor, tf_transform_output,
            hp.batch_size, shuffle=True, seed=hp.seed,
        )

    eval_ds = _input_fn(
        fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
        hp.eval_batch_size, shuffle=False, seed=hp.seed,
    )
    model, result = search_and_retrain(
        field_configs(tf_transform_output), train_ds, eval_ds, hp,
        log_dir=fn_args.model_run_dir,
    )
    module, signatures = make_serving_module(
        compact_model(model), tf_transform_output
    )
    save_serving_module(module, signatures, fn_args.serving_model_dir)
    write_search_result(result, fn_args.model_run_dir)
    write_search_result(
        result, os.path.join(fn_args.serving_model_dir, "assets.extra")
    )
