"""Helpers of tests_tfrs/ (a plain module: tests/ has its own conftest)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def legacy_env_problem():
    """Why tests_tfrs cannot run here, or None."""
    try:
        import tensorflow_recommenders  # noqa: F401
        import tf_keras  # noqa: F401

        from dimgrow_tf import backend_compat
    except ImportError as err:
        return f"needs tf_keras and tensorflow-recommenders ({err})"
    if backend_compat.KERAS_3:
        return "needs TF_USE_LEGACY_KERAS=1 (tf.keras is Keras 3 here)"
    return None


LEGACY_PROBLEM = legacy_env_problem()


def random_batch(fields, n, seed=0):
    rng = np.random.default_rng(seed)
    x = {f.name: rng.integers(0, f.vocab_size, n).astype("int32") for f in fields}
    y = rng.integers(0, 2, n).astype("float32")
    return x, y


def make_search_model(fields, optimizer=None, output_dim=4, seed=1):
    """A compiled tf_keras functional model: DimGrowEmbedding -> Dense."""
    import tf_keras as keras

    import dimgrow_tf as dg

    inputs = {f.name: keras.Input((), dtype="int32", name=f.name) for f in fields}
    emb = dg.DimGrowEmbedding(fields, output_dim=output_dim, seed=seed)
    out = keras.layers.Dense(1, activation="sigmoid")(emb(inputs))
    model = keras.Model(inputs, out)
    model.compile(optimizer or keras.optimizers.Adam(1e-2), "binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auc")])
    return model, emb


def scripted_gates(emb, plan):
    """A callback setting gate logits after chosen steps (put it first):
    `plan` is `{step: {field: logits}}`."""
    import tf_keras as keras

    class ScriptedGates(keras.callbacks.Callback):
        step = 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            for name, logits in plan.get(self.step, {}).items():
                var = emb.field_variables(name)["gate_logits"]
                var.assign(np.asarray(logits, "float32"))

    return ScriptedGates()


def serve_in_fresh_process(export_dir, features, tmp_path, signature="serving_default",
                           output="probability"):
    """Loads `export_dir` in a new Python process (no Keras imported) and
    returns `signature(**features)[output]`."""
    np.savez(tmp_path / "features.npz", **features)
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        "x = dict(np.load(sys.argv[2]))\n"
        "fn = tf.saved_model.load(sys.argv[1]).signatures[sys.argv[3]]\n"
        "out = fn(**{k: tf.constant(v) for k, v in x.items()})[sys.argv[4]]\n"
        "np.save(sys.argv[5], out.numpy())\n"
    )
    result = tmp_path / "served.npy"
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(export_dir), str(tmp_path / "features.npz"),
         signature, output, str(result)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(result)


def run_python(code, legacy, timeout=300, choice=None):
    """Runs `code` in a new process of this interpreter; returns its stdout
    parsed as JSON. `legacy` sets or removes TF_USE_LEGACY_KERAS, `choice`
    sets DIMGROW_KERAS (removed when None)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_USE_LEGACY_KERAS", "DIMGROW_KERAS")}
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    if choice:
        env["DIMGROW_KERAS"] = choice
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
