"""Epoch checkpoints of a distributed search, written by the chief.

A checkpoint is a folder `epoch-<n>/` holding `model.weights.h5` (Keras
weights format: the layers, the optimizer with its slots, and through
`DimGrowEmbedding.save_own_variables` the widths and the search callback's
state) and `state.json` (epochs done and their logs). The chief commits it
by replacing `checkpoint.json`, the index naming the newest complete
folder, through a temporary file and a rename, so a process killed while
writing leaves the previous checkpoint in force. Every other worker writes
the same files into its own `workertemp_<task>` folder and deletes it
(TensorFlow's multi-worker convention: all workers run the same save code,
so nothing a save reads can leave one worker waiting for another).
"""

import json
import os
import random

import tensorflow as tf

from dimgrow_tf.distribute.cluster_utils import is_chief
from dimgrow_tf.distribute.cluster_utils import worker_label

INDEX = "checkpoint.json"
WEIGHTS = "model.weights.h5"
STATE = "state.json"


def save_checkpoint(model, directory, state, strategy, keep=2):
    """Saves `model` and `state` (JSON-able, with an int `epoch`).

    Returns:
        The checkpoint folder on the chief, None on other workers.
    """
    chief = is_chief(strategy)
    name = f"epoch-{int(state['epoch']):05d}"
    root = directory if chief else os.path.join(directory, f"workertemp_{worker_label(strategy)}")
    folder = os.path.join(root, name)
    if tf.io.gfile.exists(folder):
        tf.io.gfile.rmtree(folder)
    tf.io.gfile.makedirs(folder)
    model.save_weights(os.path.join(folder, WEIGHTS))
    _write_json(os.path.join(folder, STATE), state)
    if not chief:
        tf.io.gfile.rmtree(root)
        return None
    _write_json(os.path.join(directory, INDEX), {"latest": name})
    _prune(directory, name, keep)
    return folder


def latest_checkpoint(directory):
    """The newest committed checkpoint folder in `directory`, or None."""
    index = os.path.join(directory, INDEX)
    if not tf.io.gfile.exists(index):
        return None
    with tf.io.gfile.GFile(index) as f:
        name = json.load(f)["latest"]
    return os.path.join(directory, name)


def restore_checkpoint(model, directory, strategy):
    """Loads the newest checkpoint into `model`; returns its state or None.

    Run it after the search callback's `on_train_begin` and with the
    model's optimizer built: the embedding layer then resizes itself and
    the optimizer's slots to the saved widths before it loads the values.
    """
    folder = latest_checkpoint(directory)
    if folder is None:
        return None
    with strategy.scope():
        model.load_weights(os.path.join(folder, WEIGHTS))
    with tf.io.gfile.GFile(os.path.join(folder, STATE)) as f:
        return json.load(f)


def python_random_state():
    """Python's `random` state as JSON-able lists.

    Keras draws the seed of every unseeded initializer from it, e.g. the
    initializer of a grown column, so a resumed search restores it to make
    the same draws as an uninterrupted one.
    """
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_python_random_state(state):
    """Restores `python_random_state()` output."""
    version, internal, gauss = state
    random.setstate((version, tuple(internal), gauss))


def _write_json(path, value):
    tmp = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump(value, f)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def _prune(directory, latest, keep):
    """Keeps `latest` and the `keep - 1` checkpoints before it.

    Folders after `latest` are left over from a run that was killed before
    it committed them: they are deleted too.
    """
    names = sorted(
        n.rstrip("/") for n in tf.io.gfile.listdir(directory) if n.startswith("epoch-")
    )
    older = [n for n in names if n < latest]
    stale = older[: max(0, len(older) - (keep - 1))]
    stale += [n for n in names if n > latest]
    for name in stale:
        tf.io.gfile.rmtree(os.path.join(directory, name))
