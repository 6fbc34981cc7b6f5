"""Compiles the DimGrow pipeline for Kubeflow Pipelines v2 / Vertex AI
Pipelines (a PipelineJob JSON spec), with Beam flags that move the data
components onto Dataflow, Flink or Spark.

    .venv-tfx/bin/python -m pipelines.kubeflow_v2_runner \
        --pipeline_root gs://BUCKET/dimgrow/root \
        --data_root gs://BUCKET/dimgrow/data \
        --serving_model_dir gs://BUCKET/dimgrow/serving \
        --image REGION-docker.pkg.dev/PROJECT/REPO/dimgrow-tfx:1.16.0 \
        --beam_runner dataflow --project PROJECT --region REGION \
        --temp_location gs://BUCKET/tmp

Compiling packages the module file into a wheel under
`<pipeline_root>/_wheels/`, so the compiling machine needs write access to
`pipeline_root`. The image must hold tfx 1.16 and `dimgrow_tf` (see
`pipelines/README.md`); on Dataflow, Flink and Spark it is also the worker
image, because Transform imports the module file there.
"""

import argparse
import json
import os
from typing import Any, Dict, List, Optional

from tfx import v1 as tfx

from pipelines.local_runner import MODULE_FILE
from pipelines.pipeline import create_pipeline

PIPELINE_NAME = "dimgrow"
BEAM_RUNNERS = ("direct", "dataflow", "flink", "spark")


def beam_pipeline_args(
    runner: str = "direct",
    image: Optional[str] = None,
    project: Optional[str] = None,
    region: Optional[str] = None,
    temp_location: Optional[str] = None,
    master: Optional[str] = None,
) -> List[str]:
    """Beam flags for the data components on one of `BEAM_RUNNERS`.

    - `direct`: every core of the component's container
      (`multi_processing`, one worker per core).
    - `dataflow`: Dataflow Runner v2 in `project`/`region`, staging under
      `temp_location`, workers started from `image`.
    - `flink`: a Flink cluster at `master` (`host:port` of its REST
      endpoint), SDK workers in Docker from `image`.
    - `spark`: a Spark cluster at `master` (`spark://host:port`), SDK
      workers in Docker from `image`.

    Add more flags (e.g. `--max_num_workers=20`, `--machine_type=...`,
    `--parallelism=8`) to the returned list as needed.
    """
    required = {
        "direct": {},
        "dataflow": {"image": image, "project": project, "region": region,
                     "temp_location": temp_location},
        "flink": {"image": image, "master": master},
        "spark": {"image": image, "master": master},
    }
    if runner not in required:
        raise ValueError(f"`runner` must be one of {BEAM_RUNNERS}. Received: {runner!r}")
    missing = sorted(k for k, v in required[runner].items() if not v)
    if missing:
        raise ValueError(f"Beam runner {runner!r} needs {missing}.")
    if runner == "direct":
        return [
            "--runner=DirectRunner",
            "--direct_running_mode=multi_processing",
            "--direct_num_workers=0",
        ]
    if runner == "dataflow":
        return [
            "--runner=DataflowRunner",
            f"--project={project}",
            f"--region={region}",
            f"--temp_location={temp_location}",
            "--experiments=use_runner_v2",
            f"--sdk_container_image={image}",
        ]
    docker = ["--environment_type=DOCKER", f"--environment_config={image}"]
    if runner == "flink":
        return ["--runner=FlinkRunner", f"--flink_master={master}"] + docker
    return ["--runner=SparkRunner", f"--spark_master_url={master}"] + docker


def compile_pipeline(
    output_file: str,
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    image: str,
    module_file: str = MODULE_FILE,
    custom_config: Optional[Dict[str, Any]] = None,
    min_auc: float = 0.5,
    max_logloss: Optional[float] = None,
    beam_args: Optional[List[str]] = None,
) -> Dict[str, Any]:
    """Writes the PipelineJob spec to `output_file`; returns it as a dict."""
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image
        ),
        output_dir=os.path.dirname(os.path.abspath(output_file)),
        output_filename=os.path.basename(output_file),
    )
    return runner.run(
        create_pipeline(
            pipeline_name=PIPELINE_NAME,
            pipeline_root=pipeline_root,
            data_root=data_root,
            module_file=module_file,
            serving_model_dir=serving_model_dir,
            custom_config=custom_config,
            min_auc=min_auc,
            max_logloss=max_logloss,
            beam_pipeline_args=beam_args,
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline_root", required=True)
    parser.add_argument("--data_root", required=True)
    parser.add_argument("--serving_model_dir", required=True)
    parser.add_argument("--image", required=True, help="tfx 1.16 + dimgrow_tf image")
    parser.add_argument("--output_file", default="dimgrow_pipeline.json")
    parser.add_argument("--custom_config", type=json.loads, default=None)
    parser.add_argument("--min_auc", type=float, default=0.5)
    parser.add_argument("--max_logloss", type=float, default=None)
    parser.add_argument("--beam_runner", choices=BEAM_RUNNERS, default="direct")
    parser.add_argument("--project")
    parser.add_argument("--region")
    parser.add_argument("--temp_location")
    parser.add_argument("--beam_master", help="Flink REST or Spark master address")
    args = parser.parse_args(argv)
    compile_pipeline(
        output_file=args.output_file,
        pipeline_root=args.pipeline_root,
        data_root=args.data_root,
        serving_model_dir=args.serving_model_dir,
        image=args.image,
        custom_config=args.custom_config,
        min_auc=args.min_auc,
        max_logloss=args.max_logloss,
        beam_args=beam_pipeline_args(
            args.beam_runner, image=args.image, project=args.project,
            region=args.region, temp_location=args.temp_location,
            master=args.beam_master,
        ),
    )
    print(args.output_file)


if __name__ == "__main__":
    main()
