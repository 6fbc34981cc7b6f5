import dataclasses
import os

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata
from tensorflow_transform.tf_metadata import metadata_io
from tensorflow_transform.tf_metadata import schema_utils
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from pipelines.modules import dimgrow_module
from pipelines.tests import example_utils


def _raw_spec(rows):
    return {
        name: tf.io.FixedLenFeature(
            [1], tf.string if isinstance(value, bytes) else tf.int64
        )
        for name, value in rows[0].items()
    }


@pytest.fixture(scope="module")
def transformed(demo_data_root, tmp_path_factory):
    """Runs `preprocessing_fn` with tf.Transform, as the Transform component does."""
    out = tmp_path_factory.mktemp("transformed")
    rows = {
        split: example_utils.read_rows(os.path.join(demo_data_root, f"{file}.csv"))
        for split, file in (("train", "train"), ("eval", "valid"), ("test", "test"))
    }
    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec(_raw_spec(rows["train"]))
    )
    as_instances = lambda split: [  # noqa: E731
        {k: [v] for k, v in row.items()} for row in rows[split]
    ]
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(out / "tmp")):
        train = pipeline | "train" >> beam.Create(as_instances("train"))
        evaluation = pipeline | "eval" >> beam.Create(as_instances("eval"))
        (train_t, train_meta), transform_fn = (
            train,
            metadata,
        ) | tft_beam.AnalyzeAndTransformDataset(dimgrow_module.preprocessing_fn)
        eval_t, _ = (
            (evaluation, metadata),
            transform_fn,
        ) | tft_beam.TransformDataset()
        _ = transform_fn | tft_beam.WriteTransformFn(str(out / "transform"))
        for name, data in (("train", train_t), ("eval", eval_t)):
            coder = tft.coders.ExampleProtoCoder(train_meta.schema)
            _ = (
                data
                | f"encode_{name}" >> beam.Map(coder.encode)
                | f"write_{name}" >> beam.io.WriteToTFRecord(
                    str(out / name / "data"), file_name_suffix=".gz"
                )
            )
    metadata_io.write_metadata(
        metadata,
        str(out / "transform" / tft.TFTransformOutput.RAW_METADATA_DIR),
    )
    return {"dir": out, "rows": rows}


def _data_accessor():
    def dataset_factory(file_pattern, options, schema):
        return tfxio.TFExampleRecord(file_pattern, schema=schema).TensorFlowDataset(
            options
        )

    return tfx.components.DataAccessor(
        tf_dataset_factory=dataset_factory,
        record_batch_factory=None,
        data_view_decode_fn=None,
    )


@pytest.fixture(scope="module")
def trained(transformed, tmp_path_factory):
    out = tmp_path_factory.mktemp("trainer")
    config = {**example_utils.HYPERPARAMETERS, "output_dim": 6, "high": 0.01, "low": 0.0}
    fn_args = tfx.components.FnArgs(
        train_files=[str(transformed["dir"] / "train" / "*")],
        eval_files=[str(transformed["dir"] / "eval" / "*")],
        transform_output=str(transformed["dir"] / "transform"),
        data_accessor=_data_accessor(),
        serving_model_dir=str(out / "Format-Serving"),
        model_run_dir=str(out / "model_run"),
        custom_config=config,
    )
    dimgrow_module.run_fn(fn_args)
    return {"fn_args": fn_args, "config": config, **transformed}


def test_preprocessing_maps_values_to_vocabulary_ids(transformed):
    output = tft.TFTransformOutput(str(transformed["dir"] / "transform"))
    train = transformed["rows"]["train"]
    for name in ("signal_0", "signal_1", "noise_0"):
        distinct = {row[name] for row in train}
        assert output.vocabulary_size_by_name(name) == len(distinct)
    assert sorted(output.transformed_feature_spec()) == [
        "label", "noise_0", "signal_0", "signal_1"
    ]


def test_field_configs_reserve_the_oov_and_missing_ids(transformed):
    output = tft.TFTransformOutput(str(transformed["dir"] / "transform"))
    fields = dimgrow_module.field_configs(output)
    train = transformed["rows"]["train"]
    assert {f.name: f.vocab_size for f in fields} == {
        name: len({row[name] for row in train}) + 2
        for name in ("noise_0", "signal_0", "signal_1")
    }
    assert all(f.dim == 1 for f in fields)


def test_transform_ids_follow_the_loader_layout(transformed):
    """0 = OOV, 1 = missing (absent or ""), 2.. = vocabulary values, as
    `dimgrow_tf.Vocabulary` and the library export map raw values."""
    output = tft.TFTransformOutput(str(transformed["dir"] / "transform"))
    layer = output.transform_features_layer()
    seen = transformed["rows"]["train"][0]
    raw = {
        "signal_0": tf.constant([[seen["signal_0"]], [b"never-seen"], [b""]]),
        "signal_1": tf.constant([[seen["signal_1"]], [10_000], [seen["signal_1"]]], tf.int64),
        "noise_0": tf.constant([[seen["noise_0"]]] * 3, tf.int64),
        "label": tf.constant([[0]] * 3, tf.int64),
    }
    ids = {k: v.numpy().tolist() for k, v in layer(raw).items() if k != "label"}
    assert ids["signal_0"][1:] == [0, 1] and ids["signal_0"][0] >= 2
    assert ids["signal_1"][1] == 0 and ids["signal_1"][0] == ids["signal_1"][2] >= 2
    sparse = tf.SparseTensor([[0, 0]], tf.constant([seen["noise_0"]], tf.int64), [2, 1])
    values, missing, present = dimgrow_module._present_values(sparse)
    assert missing.numpy().tolist() == [False, True]
    assert present.numpy().tolist() == [seen["noise_0"]]


def test_run_fn_records_the_search_in_model_run_and_export(trained):
    fn_args = trained["fn_args"]
    recorded = dimgrow_module.read_search_result(fn_args.model_run_dir)
    shipped = dimgrow_module.read_search_result(
        os.path.join(fn_args.serving_model_dir, "assets.extra")
    )
    assert recorded == shipped
    assert recorded.settings == dataclasses.asdict(
        dimgrow_module.Hyperparameters.from_custom_config(trained["config"]))
    assert recorded.timings["search_epochs"] == 3 and recorded.timings["retrain_seconds"] > 0
    assert recorded.timings["final_model"] in ("retrained", "searched")
    # high=0.01, low=0, max_dim=3: every check grows every field until the cap.
    assert recorded.searched_dims == {"noise_0": 3, "signal_0": 3, "signal_1": 3}
    grows = [e for e in recorded.history if e["action"] == "grow"]
    assert {(e["field"], e["to"]) for e in grows} == {
        (f, w) for f in ("noise_0", "signal_0", "signal_1") for w in (2, 3)
    }


def test_run_fn_exports_the_searched_dims(trained):
    fn_args = trained["fn_args"]
    result = dimgrow_module.read_search_result(fn_args.model_run_dir)
    kept = {name: d for name, d in result.dims.items() if d > 0}
    assert kept
    assert example_utils.table_widths(fn_args.serving_model_dir) == kept
    kernels = [
        shape
        for name, shape in example_utils.inference_shapes(fn_args.serving_model_dir).items()
        if name.endswith("projection/kernel")
    ]
    assert kernels == [[sum(kept.values()), trained["config"]["output_dim"]]]


def test_export_serves_raw_examples_and_raw_features_alike(trained):
    loaded = tf.saved_model.load(trained["fn_args"].serving_model_dir)
    rows = trained["rows"]["eval"][:16]
    examples = tf.constant([example_utils.to_example(r) for r in rows])
    by_example = loaded.signatures["examples"](examples=examples)["probability"]
    features = {
        name: tf.constant([r[name] for r in rows], dtype=dtype)
        for name, dtype in (
            ("noise_0", tf.int64), ("signal_0", tf.string), ("signal_1", tf.int64)
        )
    }
    by_feature = loaded.signatures["serving_default"](**features)["probability"]
    assert by_example.shape == (16,)
    assert np.all((by_example.numpy() > 0) & (by_example.numpy() < 1))
    np.testing.assert_allclose(by_example.numpy(), by_feature.numpy(), rtol=1e-6)
    assert len(np.unique(by_example.numpy())) > 1


def test_export_maps_unseen_values_to_the_oov_bucket(trained):
    loaded = tf.saved_model.load(trained["fn_args"].serving_model_dir)
    serve = loaded.signatures["serving_default"]
    unseen = serve(
        signal_0=tf.constant([b"never-seen", b"other-unseen"]),
        signal_1=tf.constant([10_000, -5], tf.int64),
        noise_0=tf.constant([77_777, 88_888], tf.int64),
    )["probability"].numpy()
    assert np.all(np.isfinite(unseen))
    assert unseen[0] == pytest.approx(unseen[1])
    # The same rule through the tf.Example signatures: "" is missing (the
    # Transform maps it to id 1 like the loader); a feature the raw schema
    # requires (FixedLenFeature here) must be present, and the error names it.
    row = dict(trained["rows"]["eval"][0])
    empty = dict(row, signal_0=b"")
    examples = tf.constant([example_utils.to_example(r) for r in (row, empty)])
    by_example = loaded.signatures["examples"](examples=examples)["probability"].numpy()
    by_feature = serve(**{k: tf.constant([v], tf.string if isinstance(v, bytes) else tf.int64)
                          for k, v in empty.items() if k != "label"})
    assert by_example[1] == pytest.approx(by_feature["probability"].numpy()[0], abs=1e-6)
    regress = loaded.signatures["regress"](inputs=examples)["outputs"].numpy()
    np.testing.assert_allclose(regress, by_example, atol=1e-7)
    absent = {k: v for k, v in row.items() if k != "signal_0"}
    with pytest.raises(tf.errors.InvalidArgumentError, match="signal_0"):
        loaded.signatures["examples"](examples=tf.constant([example_utils.to_example(absent)]))


def test_unknown_hyperparameter_is_rejected_before_training():
    with pytest.raises(ValueError, match="alpah"):
        dimgrow_module.Hyperparameters.from_custom_config({"alpah": 0.1})
    hp = dimgrow_module.Hyperparameters.from_custom_config({"alpha": 0.1})
    assert hp.alpha == 0.1 and hp.max_dim == 16


def test_hyperparameters_cover_every_library_setting_with_its_default():
    import dimgrow_tf as dg

    hp = dimgrow_module.Hyperparameters()
    assert hp.search_config() == dg.SearchConfig()
    assert hp.train_settings() == dg.TrainSettings()
    names = {f.name for f in dataclasses.fields(dimgrow_module.Hyperparameters)}
    for cls in (dg.SearchConfig, dg.TrainSettings):
        assert {f.name for f in dataclasses.fields(cls)} <= names, cls.__name__
