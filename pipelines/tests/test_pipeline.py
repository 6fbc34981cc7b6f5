import json

import pytest
import tensorflow_model_analysis as tfma

import dimgrow_tf as dg
from google.protobuf import json_format

from pipelines import local_runner
from pipelines.pipeline import create_pipeline
from pipelines.pipeline import make_eval_config

COMPONENTS = [
    "CsvExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
]


def _pipeline(**kwargs):
    args = dict(
        pipeline_name="test",
        pipeline_root="/tmp/unused/root",
        data_root="/tmp/unused/data",
        module_file=local_runner.MODULE_FILE,
        serving_model_dir="/tmp/unused/serving",
    )
    args.update(kwargs)
    return create_pipeline(**args)


def _by_id(pipeline):
    return {c.id: c for c in pipeline.components}


def _eval_config(evaluator):
    return json_format.Parse(
        evaluator.exec_properties["eval_config"], tfma.EvalConfig()
    )


def test_pipeline_has_the_components_in_order():
    assert [c.id for c in _pipeline().components] == COMPONENTS


def test_components_are_wired_transform_to_trainer_to_pusher():
    components = _by_id(_pipeline())
    inputs = {
        name: {k: (v.producer_component_id, v.output_key) for k, v in c.inputs.items()}
        for name, c in components.items()
    }
    assert inputs["Transform"] == {
        "examples": ("CsvExampleGen", "examples"),
        "schema": ("SchemaGen", "schema"),
    }
    assert inputs["Trainer"] == {
        "examples": ("Transform", "transformed_examples"),
        "transform_graph": ("Transform", "transform_graph"),
        "schema": ("SchemaGen", "schema"),
    }
    assert inputs["Evaluator"] == {
        "examples": ("CsvExampleGen", "examples"),
        "model": ("Trainer", "model"),
    }
    assert inputs["Pusher"] == {
        "model": ("Trainer", "model"),
        "model_blessing": ("Evaluator", "blessing"),
    }
    assert inputs["ExampleValidator"]["schema"] == ("SchemaGen", "schema")


def test_splits_train_eval_test_feed_transform_trainer_evaluator():
    components = _by_id(_pipeline())
    input_config = json.loads(components["CsvExampleGen"].exec_properties["input_config"])
    assert {s["name"]: s["pattern"] for s in input_config["splits"]} == {
        "train": "train.csv", "eval": "valid.csv", "test": "test.csv",
    }
    splits = json.loads(components["Transform"].exec_properties["splits_config"])
    assert splits == {"analyze": ["train"], "transform": ["train", "eval", "test"]}
    trainer = components["Trainer"].exec_properties
    assert json.loads(trainer["train_args"])["splits"] == ["train"]
    assert json.loads(trainer["eval_args"])["splits"] == ["eval"]
    assert json.loads(components["Evaluator"].exec_properties["example_splits"]) == ["test"]


def test_custom_config_reaches_the_trainer_with_defaults_filled_in():
    trainer = _by_id(_pipeline(custom_config={"alpha": 0.1, "max_dim": 4, "epochs": 2}))[
        "Trainer"
    ]
    config = json.loads(trainer.exec_properties["custom_config"])
    assert (config["alpha"], config["max_dim"], config["epochs"]) == (0.1, 4, 2)
    assert config["check_every"] == dg.SearchConfig.check_every and config["backbone"] == "wide_deep"


def test_unknown_custom_config_key_fails_at_construction():
    with pytest.raises(ValueError, match="max_dims"):
        _pipeline(custom_config={"max_dims": 4})


def test_module_file_is_used_by_transform_and_trainer():
    components = _by_id(_pipeline())
    for name in ("Transform", "Trainer"):
        assert components[name].exec_properties["module_file"] == local_runner.MODULE_FILE


def test_eval_thresholds_block_low_auc_and_high_logloss():
    config = _eval_config(_by_id(_pipeline(min_auc=0.7, max_logloss=0.6))["Evaluator"])
    (spec,) = config.model_specs
    assert (spec.signature_name, spec.label_key) == ("examples", "label")
    metrics = {m.class_name: m for m in config.metrics_specs[0].metrics}
    assert set(metrics) == {"ExampleCount", "AUC", "BinaryCrossEntropy"}
    auc = metrics["AUC"].threshold.value_threshold
    assert auc.lower_bound.value == pytest.approx(0.7)
    logloss = metrics["BinaryCrossEntropy"].threshold.value_threshold
    assert logloss.upper_bound.value == pytest.approx(0.6)


def test_logloss_is_unbounded_by_default():
    metrics = {m.class_name: m for m in make_eval_config().metrics_specs[0].metrics}
    assert not metrics["BinaryCrossEntropy"].HasField("threshold")
    assert metrics["AUC"].threshold.value_threshold.lower_bound.value == 0.5


def test_pusher_targets_the_serving_directory():
    pusher = _by_id(_pipeline(serving_model_dir="/srv/models/dimgrow"))["Pusher"]
    destination = json.loads(pusher.exec_properties["push_destination"])
    assert destination == {"filesystem": {"base_directory": "/srv/models/dimgrow"}}


def test_beam_args_and_metadata_pass_through():
    from tfx import v1 as tfx

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config("/tmp/m.db")
    pipeline = _pipeline(
        beam_pipeline_args=["--direct_num_workers=2"],
        metadata_connection_config=metadata,
        enable_cache=False,
    )
    assert pipeline.beam_pipeline_args == ["--direct_num_workers=2"]
    assert pipeline.metadata_connection_config == metadata
    assert pipeline.enable_cache is False
