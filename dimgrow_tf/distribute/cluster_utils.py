"""Which worker this process is, read from the strategy or `TF_CONFIG`."""

import json
import os

import tensorflow as tf


def task_info(strategy=None):
    """`(task_type, task_id)` of this process; `(None, 0)` outside a cluster.

    Read from the strategy's cluster resolver (`MultiWorkerMirroredStrategy`
    has one) or else from the `TF_CONFIG` environment variable.
    """
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and resolver.task_type is not None:
        return resolver.task_type, int(resolver.task_id or 0)
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    return task.get("type"), int(task.get("index", 0))


def cluster_spec_dict(strategy=None):
    """The cluster as `{job name: [addresses]}`; `{}` outside a cluster."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None:
        return resolver.cluster_spec().as_dict()
    return dict(json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster") or {})


def worker_count(strategy=None):
    """How many processes train together under `strategy` (1 on one host).

    Counted from the strategy's cluster resolver (chief and worker tasks),
    so a `MirroredStrategy` is one process whatever `TF_CONFIG` says.
    """
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    jobs = resolver.cluster_spec().as_dict()
    return max(1, sum(len(jobs.get(job, [])) for job in ("chief", "worker")))


def is_chief(strategy=None):
    """True for the process that writes checkpoints, results and exports.

    That is the `chief` task when the cluster has one, otherwise worker 0
    (TensorFlow's multi-worker convention); a single process is its own
    chief.

    Example:

    ```python
    if dimgrow_tf.distribute.cluster_utils.is_chief(strategy):
        search.result().save("search_result.json")
    ```
    """
    task_type, task_id = task_info(strategy)
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster_spec_dict(strategy)


def worker_label(strategy=None):
    """`"<type>_<id>"` of this task (`"chief_0"` outside a cluster)."""
    task_type, task_id = task_info(strategy)
    return f"{task_type or 'chief'}_{task_id}"
