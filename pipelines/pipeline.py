"""`create_pipeline`: the DimGrow TFX pipeline, independent of the runner."""

import dataclasses
from typing import Any, Dict, List, Mapping, Optional

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from pipelines.modules import dimgrow_module

# CsvExampleGen split name -> file name inside `data_root` (the layout of
# `shared/data/splits/*`: `label,<field>,...` CSVs with a header).
DATA_SPLITS: Mapping[str, str] = {
    "train": "train.csv",
    "eval": "valid.csv",
    "test": "test.csv",
}
TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
TEST_SPLIT = "test"
SERVING_SIGNATURE = dimgrow_module.SERVING_SIGNATURE


def make_eval_config(
    min_auc: float = 0.5, max_logloss: Optional[float] = None
) -> tfma.EvalConfig:
    """TFMA config: example count, AUC and log loss on the raw label.

    The model is evaluated through its tf.Example signature (raw examples,
    Transform inside). A model is blessed only when `AUC >= min_auc` and,
    if given, `logloss <= max_logloss`; Pusher pushes blessed models only.
    """
    logloss = tfma.MetricConfig(class_name="BinaryCrossEntropy")
    if max_logloss is not None:
        logloss.threshold.CopyFrom(
            tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(
                    upper_bound={"value": max_logloss}
                )
            )
        )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name=SERVING_SIGNATURE,
                label_key=dimgrow_module.LABEL_KEY,
                model_type=tfma.TF_GENERIC,
            )
        ],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(
                        class_name="AUC",
                        threshold=tfma.MetricThreshold(
                            value_threshold=tfma.GenericValueThreshold(
                                lower_bound={"value": min_auc}
                            )
                        ),
                    ),
                    logloss,
                ]
            )
        ],
    )


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    module_file: str,
    serving_model_dir: str,
    custom_config: Optional[Dict[str, Any]] = None,
    min_auc: float = 0.5,
    max_logloss: Optional[float] = None,
    metadata_connection_config: Optional[Any] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """The DimGrow pipeline: data checks, Transform, search + retrain, push.

    CsvExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator ->
    Transform -> Trainer -> Evaluator -> Pusher. `data_root` holds
    `train.csv`, `valid.csv` and `test.csv` (splits `train`, `eval`,
    `test`); Transform analyzes `train`, the Trainer searches on `train`
    monitoring `eval`, and the Evaluator scores `test`.

    Args:
        pipeline_name: str. Name recorded in ML Metadata.
        pipeline_root: str. Root of all artifacts (local path or URI).
        data_root: str. Directory of the three CSVs.
        module_file: str. The module file with `preprocessing_fn` and
            `run_fn` (usually `pipelines/modules/dimgrow_module.py`).
        serving_model_dir: str. Pusher's base directory; every blessed
            model lands in a new numbered version below it.
        custom_config: dict or None. DimGrow hyperparameters for the
            Trainer (see `dimgrow_module.Hyperparameters`); unknown keys
            raise here, before anything runs. Defaults to `None`.
        min_auc: float. Lowest test AUC that still blesses the model.
            Defaults to `0.5`.
        max_logloss: float or None. Highest test log loss that still
            blesses the model. Defaults to `None` (no bound).
        metadata_connection_config: ML Metadata connection, or `None` to
            leave it to the orchestrator. Defaults to `None`.
        beam_pipeline_args: list of str or None. Beam flags for the data
            components (DirectRunner, Dataflow, Flink, Spark).
            Defaults to `None`.
        enable_cache: bool. Reuse unchanged executions. Defaults to `True`.
    """
    hyperparameters = dimgrow_module.Hyperparameters.from_custom_config(
        custom_config
    )
    example_gen = tfx.components.CsvExampleGen(
        input_base=data_root,
        input_config=tfx.proto.Input(
            splits=[
                tfx.proto.Input.Split(name=name, pattern=pattern)
                for name, pattern in DATA_SPLITS.items()
            ]
        ),
    )
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"]
    )
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        module_file=module_file,
        splits_config=tfx.proto.SplitsConfig(
            analyze=[TRAIN_SPLIT], transform=list(DATA_SPLITS)
        ),
    )
    trainer = tfx.components.Trainer(
        module_file=module_file,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[EVAL_SPLIT]),
        custom_config=dataclasses.asdict(hyperparameters),
    )
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        example_splits=[TEST_SPLIT],
        eval_config=make_eval_config(min_auc, max_logloss),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=serving_model_dir
            )
        ),
    )
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            transform,
            trainer,
            evaluator,
            pusher,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [],
    )
