import json
import os
import subprocess
import sys

import ml_metadata as mlmd
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from dimgrow_tf.models.search_and_retrain import binary_metrics
from pipelines import local_runner
from pipelines.modules import dimgrow_module
from pipelines.tests import example_utils
from pipelines.tests.test_pipeline import COMPONENTS

pytestmark = pytest.mark.e2e

PIPELINE_NAME = "dimgrow_e2e"
COMPLETE = mlmd.proto.Execution.COMPLETE
CACHED = mlmd.proto.Execution.CACHED

# Runs in a new interpreter that imports TensorFlow only, as TF Serving would
# load the model: no tfx, tensorflow_transform or dimgrow_tf.
SERVE_SCRIPT = """
import json, sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
records = [r.numpy() for r in tf.data.TFRecordDataset(sys.argv[2])]
out = model.signatures["examples"](examples=tf.constant(records))
print(json.dumps({
    "probability": out["probability"].numpy().tolist(),
    "modules": sorted(m for m in ("tfx", "tensorflow_transform", "dimgrow_tf")
                      if m in sys.modules),
}))
"""


class Run:
    """One LocalDagRunner run and what ML Metadata recorded about it."""

    def __init__(self, output_dir, paths):
        self.output_dir = output_dir
        self.paths = paths
        self.store = mlmd.MetadataStore(
            tfx.orchestration.metadata.sqlite_metadata_connection_config(
                paths["metadata_path"]
            )
        )

    def executions(self, component):
        context = self.store.get_context_by_type_and_name(
            "node", f"{PIPELINE_NAME}.{component}"
        )
        executions = self.store.get_executions_by_context(context.id)
        return sorted(executions, key=lambda e: e.id)

    def outputs(self, execution):
        events = self.store.get_events_by_execution_ids([execution.id])
        ids = [e.artifact_id for e in events if e.type == mlmd.proto.Event.OUTPUT]
        return {a.type_id: a for a in self.store.get_artifacts_by_id(ids)}

    def output(self, execution, type_name):
        type_id = self.store.get_artifact_type(type_name).id
        return self.outputs(execution)[type_id]

    def first_output(self, component, type_name):
        return self.output(self.executions(component)[0], type_name)

    def last_output(self, component, type_name):
        return self.output(self.executions(component)[-1], type_name)


def _versions(serving_model_dir):
    return sorted(os.listdir(serving_model_dir)) if os.path.isdir(serving_model_dir) else []


@pytest.fixture(scope="module")
def first_run(demo_data_root, tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("e2e"))
    paths = local_runner.run(
        demo_data_root,
        output_dir=output_dir,
        pipeline_name=PIPELINE_NAME,
        custom_config=example_utils.HYPERPARAMETERS,
        min_auc=0.5,
    )
    return Run(output_dir, paths)


@pytest.fixture(scope="module")
def blocked_run(first_run, demo_data_root):
    before = _versions(first_run.paths["serving_model_dir"])
    local_runner.run(
        demo_data_root,
        output_dir=first_run.output_dir,
        pipeline_name=PIPELINE_NAME,
        custom_config=example_utils.HYPERPARAMETERS,
        min_auc=0.999,
    )
    return before


def _pushed_dir(run):
    pushed = run.first_output("Pusher", "PushedModel")
    return pushed.custom_properties["pushed_destination"].string_value


def test_every_component_executed_once(first_run):
    for component in COMPONENTS:
        states = [e.last_known_state for e in first_run.executions(component)]
        assert states[0] == COMPLETE, component


def test_blessed_model_is_pushed_to_a_new_version(first_run):
    blessing = first_run.first_output("Evaluator", "ModelBlessing")
    assert blessing.custom_properties["blessed"].int_value == 1
    pushed = first_run.first_output("Pusher", "PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 1
    (version,) = _versions(first_run.paths["serving_model_dir"])
    assert _pushed_dir(first_run) == os.path.join(
        first_run.paths["serving_model_dir"], version
    )


def test_pushed_model_serves_tf_examples_in_a_fresh_process(first_run, demo_data_root, tmp_path):
    rows = example_utils.read_rows(os.path.join(demo_data_root, "test.csv"))
    records = str(tmp_path / "test.tfrecord")
    with tf.io.TFRecordWriter(records) as writer:
        for row in rows:
            writer.write(example_utils.to_example(row))
    done = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, _pushed_dir(first_run), records],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["modules"] == []
    probabilities = served["probability"]
    assert len(probabilities) == len(rows)
    assert all(0.0 < p < 1.0 for p in probabilities)

    # The served predictions reproduce the Evaluator's test metrics.
    evaluation = first_run.first_output("Evaluator", "ModelEvaluation")
    (metrics,) = tfma.load_eval_result(evaluation.uri).slicing_metrics
    recorded = {k: v["doubleValue"] for k, v in metrics[1][""][""].items()}
    exact = binary_metrics([r["label"] for r in rows], probabilities)
    assert recorded["example_count"] == len(rows)
    assert recorded["auc"] == pytest.approx(exact["auc"], abs=0.01)
    assert recorded["binary_crossentropy"] == pytest.approx(exact["logloss"], abs=1e-3)
    assert exact["auc"] > 0.5


def test_recorded_dims_are_the_dims_of_the_pushed_model(first_run):
    model_run = first_run.first_output("Trainer", "ModelRun")
    recorded = dimgrow_module.read_search_result(model_run.uri)
    pushed = _pushed_dir(first_run)
    assert dimgrow_module.read_search_result(os.path.join(pushed, "assets.extra")) == recorded
    kept = {name: d for name, d in recorded.dims.items() if d > 0}
    assert kept
    assert example_utils.table_widths(pushed) == kept
    assert set(recorded.dims) == {"noise_0", "signal_0", "signal_1"}
    assert recorded.monitor == "val_auc"


def test_trainer_received_the_custom_config(first_run):
    execution = first_run.executions("Trainer")[0]
    config = json.loads(execution.custom_properties["custom_config"].string_value)
    for key, value in example_utils.HYPERPARAMETERS.items():
        assert config[key] == value


def test_auc_threshold_blocks_the_push_without_retraining(first_run, blocked_run):
    assert _versions(first_run.paths["serving_model_dir"]) == blocked_run
    assert len(first_run.executions("Evaluator")) == 2
    blessing = first_run.last_output("Evaluator", "ModelBlessing")
    assert blessing.custom_properties["blessed"].int_value == 0
    pushed = first_run.last_output("Pusher", "PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 0
    assert first_run.executions("Trainer")[-1].last_known_state == CACHED
