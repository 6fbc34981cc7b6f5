"""Helpers shared by the benchmarks: peak RSS and one process per configuration."""

import json
import os
import subprocess
import sys


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

    oneDNN is off: its CPU allocator keeps freed blocks pooled, so RSS would
    show the pool's high-water mark instead of live memory (README, Memory
    and speed).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    proc = subprocess.run([sys.executable, script, *extra], env=env,
                          capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"child {extra} failed:\n{proc.stderr[-3000:]}")
