"""Helpers shared by the benchmarks: peak RSS and one process per configuration."""

import json
import os
import subprocess
import sys

MMAP_THRESHOLD = 1 << 20


def train_data(split, batch_size, seed):
    """A factory of fresh shuffled `(features, labels)` datasets in `seed`'s order.

    Passed to `search`, `retrain` or `search_and_retrain`, it gives every model
    its own dataset, so the models of one seed see the same batches and their
    difference is paired.
    """
    from dimgrow_tf.data.datasets import to_dataset

    return lambda: to_dataset(*split, batch_size, shuffle=True, seed=seed)


def status(key):
    """A `/proc/self/status` entry (VmRSS, VmHWM, ...) in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak():
    """Resets VmHWM to the current RSS."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def spawn(script, extra):
    """Runs `script extra...` in a fresh process; returns its `RESULT {json}` line.

    Every configuration runs with the same allocator settings (README, Memory
    and speed): oneDNN off, since its CPU allocator keeps freed blocks pooled
    and RSS would show the pool's high-water mark; and glibc's mmap threshold
    fixed at 1 MiB (`MALLOC_MMAP_THRESHOLD_`), since glibc otherwise raises
    it after large frees, serves later large buffers from its heap and keeps
    freed ones there (RSS above live memory, slower steps). Set the variable
    to another value in the environment to compare.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD))
    proc = subprocess.run([sys.executable, script, *extra], env=env,
                          capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"child {extra} failed:\n{proc.stderr[-3000:]}")


def write_results(base, args, rows, summary, text):
    """Writes `base.json` (args, runs, summary) and `base.md` (`text`)."""
    os.makedirs(os.path.dirname(base), exist_ok=True)
    with open(base + ".json", "w") as fh:
        json.dump({"args": vars(args), "runs": rows, "summary": summary}, fh, indent=1)
    with open(base + ".md", "w") as fh:
        fh.write(text)
