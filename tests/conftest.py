import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


def small_fields():
    import dimgrow_tf as dg

    return [dg.FieldConfig("a", 10), dg.FieldConfig("b", 7, dim=2)]


def random_batch(fields, n, seed=0):
    rng = np.random.default_rng(seed)
    x = {f.name: rng.integers(0, f.vocab_size, n).astype("int32") for f in fields}
    y = rng.integers(0, 2, n).astype("float32")
    return x, y


class ScriptedGates(keras.callbacks.Callback):
    """Sets gate logits after chosen steps, so the next check grows or shrinks.

    `plan` is `{step: {field: logits}}`; put it before DimGrowCallback.
    """

    def __init__(self, emb, plan):
        super().__init__()
        self.emb, self.plan, self.step = emb, plan, 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        for name, logits in self.plan.get(self.step, {}).items():
            var = self.emb.field_variables(name)["gate_logits"]
            var.assign(np.resize(np.asarray(logits, "float32"), var.shape))


def make_search_model(fields, optimizer="adam", output_dim=4, seed=1, **kwargs):
    import dimgrow_tf as dg

    inputs = {f.name: keras.Input((), dtype="int32", name=f.name) for f in fields}
    emb = dg.DimGrowEmbedding(fields, output_dim=output_dim, seed=seed, **kwargs)
    out = keras.layers.Dense(1, activation="sigmoid")(emb(inputs))
    model = keras.Model(inputs, out)
    model.compile(optimizer, "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    return model, emb


def config_round_trip(obj):
    import json

    config = obj.get_config()
    restored = type(obj).from_config(json.loads(json.dumps(config)))
    assert json.dumps(restored.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    return restored


def serve_in_local_server(job, directory):
    """Runs `python -m serving.local_server` on `job` in a fresh process;
    returns its answers `{export_dir: ...}`."""
    import json
    import pathlib
    import subprocess
    import sys

    directory = pathlib.Path(directory)
    job_path, out_path = directory / "job.json", directory / "out.json"
    job_path.write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, "-m", "serving.local_server", str(job_path), str(out_path)],
        cwd=pathlib.Path(__file__).resolve().parents[1],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out_path.read_text())
