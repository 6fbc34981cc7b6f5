"""Runs the DimGrow pipeline on this machine: `LocalDagRunner`, SQLite
ML Metadata, Beam DirectRunner.

    .venv-tfx/bin/python -m pipelines.local_runner --demo
    .venv-tfx/bin/python -m pipelines.local_runner --dataset frappe \
        --custom_config '{"epochs": 5, "alpha": 0.02}'
"""

import argparse
import json
import os
from typing import Any, Dict, List, Optional

from tfx import v1 as tfx

from pipelines.pipeline import create_pipeline

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE_FILE = os.path.join(REPO_ROOT, "pipelines", "modules", "dimgrow_module.py")
SHARED_SPLITS = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data", "splits")
OUTPUT_DIR = os.path.join(REPO_ROOT, "runs", "tfx")
PIPELINE_NAME = "dimgrow"
DIRECT_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def local_paths(output_dir: str, pipeline_name: str) -> Dict[str, str]:
    """Where a local run keeps artifacts, metadata and pushed models."""
    base = os.path.join(output_dir, pipeline_name)
    return {
        "pipeline_root": os.path.join(base, "pipeline_root"),
        "metadata_path": os.path.join(base, "metadata.db"),
        "serving_model_dir": os.path.join(base, "serving_model"),
    }


def shared_datasets() -> List[str]:
    """Names of the `shared/data/splits/*` datasets present here."""
    if not os.path.isdir(SHARED_SPLITS):
        return []
    return sorted(
        name
        for name in os.listdir(SHARED_SPLITS)
        if os.path.isfile(os.path.join(SHARED_SPLITS, name, "train.csv"))
    )


def run(
    data_root: str,
    output_dir: str = OUTPUT_DIR,
    pipeline_name: str = PIPELINE_NAME,
    custom_config: Optional[Dict[str, Any]] = None,
    min_auc: float = 0.5,
    max_logloss: Optional[float] = None,
    beam_pipeline_args: Optional[List[str]] = None,
) -> Dict[str, str]:
    """Runs the whole pipeline once; returns `local_paths(...)`."""
    paths = local_paths(output_dir, pipeline_name)
    tfx.orchestration.LocalDagRunner().run(
        create_pipeline(
            pipeline_name=pipeline_name,
            pipeline_root=paths["pipeline_root"],
            data_root=data_root,
            module_file=MODULE_FILE,
            serving_model_dir=paths["serving_model_dir"],
            custom_config=custom_config,
            min_auc=min_auc,
            max_logloss=max_logloss,
            metadata_connection_config=(
                tfx.orchestration.metadata.sqlite_metadata_connection_config(
                    paths["metadata_path"]
                )
            ),
            beam_pipeline_args=(
                DIRECT_BEAM_ARGS if beam_pipeline_args is None else beam_pipeline_args
            ),
        )
    )
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data_root", help="directory of train/valid/test.csv")
    source.add_argument(
        "--dataset", choices=shared_datasets() or None,
        help=f"a dataset of {SHARED_SPLITS}",
    )
    source.add_argument(
        "--demo", action="store_true", help="generate a small synthetic CSV"
    )
    parser.add_argument("--output_dir", default=OUTPUT_DIR)
    parser.add_argument(
        "--custom_config", type=json.loads, default=None,
        help="JSON dict of DimGrow hyperparameters (alpha, max_dim, epochs, ...)",
    )
    parser.add_argument("--min_auc", type=float, default=0.5)
    parser.add_argument("--max_logloss", type=float, default=None)
    args = parser.parse_args(argv)

    name = PIPELINE_NAME
    if args.demo:
        from pipelines.demo_data import write_demo_csvs

        data_root = os.path.join(args.output_dir, "demo_data")
        write_demo_csvs(data_root, num_rows=4000)
        name += "_demo"
    elif args.dataset:
        data_root = os.path.join(SHARED_SPLITS, args.dataset)
        name += f"_{args.dataset}"
    else:
        data_root = args.data_root
    paths = run(
        data_root, output_dir=args.output_dir, pipeline_name=name,
        custom_config=args.custom_config, min_auc=args.min_auc,
        max_logloss=args.max_logloss,
    )
    print(json.dumps(paths, indent=1))


if __name__ == "__main__":
    main()
