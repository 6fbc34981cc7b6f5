"""GPU check of issue #12, for a user with a GPU.

NOT RUN on this project's machines (they have no GPU); it was run on CPU
only, with small sizes, to check that it works end to end.

What it does, under a mixed-precision policy (default `mixed_bfloat16`):
1. a DimGrow search with resizes (`jit_compile` left at "auto": the callback
   switches XLA off for the search model, with a warning);
2. the retrain at the searched dims with `jit_compile=True` (XLA) and, for
   the step-time table, with `jit_compile=False`;
3. ids out of range under XLA: they must read row 0 and be counted
   (`out_of_range_ids`), not raise and not read another row;
4. `export_saved_model` of the retrained model: the served probabilities
   must equal the eager model's within `--tolerance`.
It prints a table and writes JSON (`--out`); it exits 1 when a check fails.

    python benchmarks/gpu_check.py --rows 200000 --batch 2048 --out gpu_check.json
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import dimgrow_tf as dg  # noqa: E402
from dimgrow_tf.data.synthetic import make_synthetic_ctr  # noqa: E402


class _StepTimer(keras.callbacks.Callback):
    """Median wall time per training step, the first 5 calls excluded."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    def median_ms(self):
        times = self.times[5:] or self.times
        return 1000.0 * float(np.median(times)) if times else float("nan")


def _fit(model, x, y, args, callbacks=()):
    timer = _StepTimer()
    model.fit(x, y, batch_size=args.batch, epochs=args.epochs, verbose=0,
              callbacks=[*callbacks, timer])
    return timer.median_ms()


def _recompiled(model, jit_compile):
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy",
                  metrics=[keras.metrics.AUC(name="auc")], jit_compile=jit_compile)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", default="mixed_bfloat16")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--check-every", type=int, default=20)
    # bfloat16 keeps 8 significant bits (relative step 2**-8 ~ 4e-3); the
    # export computes in the same policy but in another op order.
    parser.add_argument("--tolerance", type=float, default=1e-2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print("WARNING: no GPU visible; this runs on CPU and checks nothing GPU-specific.")
    keras.mixed_precision.set_global_policy(args.policy)
    x, y, fields = make_synthetic_ctr(num_rows=args.rows, signal_fields=4, noise_fields=4,
                                      vocab_size=args.vocab, seed=0)
    report = {"devices": [d.name for d in gpus], "policy": args.policy,
              "keras": keras.version(), "tensorflow": tf.__version__, "checks": {}}
    checks = report["checks"]

    # 1. Search with resizes (XLA switched off by the callback).
    search_model, emb = dg.build_search_model(fields, seed=0)
    # Thresholds that make resizes happen early (gates start at 0.5): this
    # checks the engine, not the search's quality.
    search = dg.DimGrowCallback(emb, dg.SearchConfig(
        high=0.5001, low=0.0, window=1, max_dim=8, check_every=args.check_every,
        monitor="loss"))
    report["search_ms_per_step"] = _fit(search_model, x, y, args, [search])
    report["search_resizes"] = len(search.history)
    report["search_traces"] = emb.trace_counts
    checks["search_resized"] = len(search.history) > 0
    checks["search_traced_once"] = emb.trace_counts["train"] == 1
    checks["search_variables_float32"] = all(
        v.value.dtype == tf.float32 for f in emb.dims for v in emb.field_variables(f).values()
    )
    result = search.result()
    report["dims"] = result.dims

    # 2. Retrain at the searched dims, without and with XLA.
    times = {}
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = _recompiled(dg.build_model(result), jit)
        times[jit] = _fit(model, x, y, args)
    report["retrain_ms_per_step"] = {"xla": times[True], "no_xla": times[False]}

    # 3. Out-of-range ids under XLA: row 0, counted.
    name = next(f.name for f in result.fields if f.dim > 0)
    vocab = next(f.vocab_size for f in result.fields if f.name == name)
    n = 4 * args.batch
    bad = {k: np.asarray(v[:n]).copy() for k, v in x.items()}
    bad[name][:3] = [vocab, -1, vocab + 7]
    logs = model.evaluate(bad, y[:n], batch_size=args.batch, verbose=0, return_dict=True)
    checks["xla_out_of_range_counted"] = logs.get("out_of_range_ids") == 3.0
    clean = dict(bad)
    clean[name] = np.where((bad[name] < 0) | (bad[name] >= vocab), 0, bad[name])
    checks["xla_out_of_range_reads_row_0"] = bool(np.array_equal(
        model.predict(bad, batch_size=args.batch, verbose=0),
        model.predict(clean, batch_size=args.batch, verbose=0)))

    # 4. Export: served float32 output = eager output.
    with tempfile.TemporaryDirectory() as tmp:
        path = dg.export_saved_model(model, tmp, warmup=False)
        serve = tf.saved_model.load(path).signatures["serving_default"]
        rows = {f.name: tf.constant(np.asarray(x[f.name][:1024]), tf.int64)
                for f in result.fields if f.dim > 0}
        served = serve(**rows)["probability"]
    eager = np.asarray(keras.ops.cast(model({k: v[:1024] for k, v in x.items()},
                                            training=False), "float32")).reshape(-1)
    diff = float(np.max(np.abs(served.numpy().reshape(-1) - eager)))
    report["export_max_abs_diff"] = diff
    checks["export_float32"] = served.dtype == tf.float32
    checks["export_equals_eager"] = diff <= args.tolerance

    print(f"devices: {report['devices'] or 'CPU only'}  policy: {args.policy}")
    print("| model | ms/step |")
    print("|---|---|")
    print(f"| search (no XLA, {report['search_resizes']} resizes) | "
          f"{report['search_ms_per_step']:.2f} |")
    print(f"| retrain, no XLA | {times[False]:.2f} |")
    print(f"| retrain, XLA | {times[True]:.2f} |")
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'} {check}")
    print(f"export max |served - eager| = {diff:.2e} (tolerance {args.tolerance})")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2, default=str)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
