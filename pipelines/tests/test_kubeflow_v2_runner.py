import json
import zipfile

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import kubeflow_v2_runner
from pipelines import local_runner
from pipelines.tests.test_pipeline import COMPONENTS

IMAGE = "europe-docker.pkg.dev/acme/ml/dimgrow-tfx:1.16.0"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp")
    output_file = out / "dimgrow_pipeline.json"
    kubeflow_v2_runner.compile_pipeline(
        output_file=str(output_file),
        pipeline_root=str(out / "root"),
        data_root="gs://acme-ml/dimgrow/data",
        serving_model_dir="gs://acme-ml/dimgrow/serving",
        image=IMAGE,
        custom_config={"alpha": 0.005, "max_dim": 8},
        min_auc=0.7,
        beam_args=kubeflow_v2_runner.beam_pipeline_args(
            "dataflow", image=IMAGE, project="acme", region="europe-west4",
            temp_location="gs://acme-ml/tmp",
        ),
    )
    with open(output_file) as fh:
        return json.load(fh)["pipelineSpec"]


def _parameter(spec, task, name):
    value = spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]
    return value["runtimeValue"]["constantValue"]["stringValue"]


def test_spec_runs_every_component_in_the_given_image(compiled):
    assert sorted(compiled["root"]["dag"]["tasks"]) == sorted(COMPONENTS)
    executors = compiled["deploymentSpec"]["executors"]
    assert sorted(executors) == sorted(f"{c}_executor" for c in COMPONENTS)
    assert {e["container"]["image"] for e in executors.values()} == {IMAGE}


def test_spec_keeps_the_wiring(compiled):
    tasks = compiled["root"]["dag"]["tasks"]
    assert sorted(tasks["Trainer"]["dependentTasks"]) == ["SchemaGen", "Transform"]
    assert sorted(tasks["Pusher"]["dependentTasks"]) == ["Evaluator", "Trainer"]


def test_trainer_and_transform_reference_the_packaged_module_file(compiled):
    with open(local_runner.MODULE_FILE) as fh:
        source = fh.read()
    for task in ("Transform", "Trainer"):
        module_path = _parameter(compiled, task, "module_path")
        module, wheel = module_path.split("@", 1)
        assert module == "dimgrow_module"
        assert f"_wheels/tfx_user_code_{task}-" in wheel
        with zipfile.ZipFile(wheel) as archive:
            assert archive.read("dimgrow_module.py").decode() == source


def test_custom_config_and_eval_threshold_are_compiled_in(compiled):
    config = json.loads(_parameter(compiled, "Trainer", "custom_config"))
    assert (config["alpha"], config["max_dim"]) == (0.005, 8)
    eval_config = json.loads(_parameter(compiled, "Evaluator", "eval_config"))
    auc = [m for m in eval_config["metrics_specs"][0]["metrics"] if m["class_name"] == "AUC"]
    assert auc[0]["threshold"]["value_threshold"]["lower_bound"] == 0.7


def test_data_components_get_the_dataflow_flags(compiled):
    executors = compiled["deploymentSpec"]["executors"]
    for component in ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator"):
        args = executors[f"{component}_executor"]["container"]["args"]
        assert "--runner=DataflowRunner" in args
        assert f"--sdk_container_image={IMAGE}" in args


@pytest.mark.parametrize("runner", kubeflow_v2_runner.BEAM_RUNNERS)
def test_beam_flags_are_all_known_to_beam(runner):
    args = kubeflow_v2_runner.beam_pipeline_args(
        runner, image=IMAGE, project="acme", region="europe-west4",
        temp_location="gs://acme-ml/tmp", master="flink-or-spark:8081",
    )
    options = PipelineOptions(args).get_all_options()
    for flag in args:
        name, value = flag[2:].split("=", 1)
        parsed = options[name]
        assert value == (",".join(parsed) if isinstance(parsed, list) else str(parsed))
    assert options["runner"] == args[0].split("=", 1)[1]


def test_beam_flags_name_what_is_missing():
    with pytest.raises(ValueError, match=r"\['master'\]"):
        kubeflow_v2_runner.beam_pipeline_args("spark", image=IMAGE)
    with pytest.raises(ValueError, match="must be one of"):
        kubeflow_v2_runner.beam_pipeline_args("ray")
