"""Starts N local worker processes of one command, each with its `TF_CONFIG`.

For trying a multi-worker job on one machine (and for the tests); on a real
cluster each machine runs the command once with its own `TF_CONFIG` (see
README "Distribution").

```bash
python -m dimgrow_tf.distribute.launch --workers 2 --log-dir logs -- python train.py
```

Every worker runs `python train.py` with `TF_CONFIG` naming all workers on
127.0.0.1 at free ports and its own index; worker 0 is the chief. When a
worker fails, the others are stopped (they would wait for it forever in
the next collective), and the launcher exits with the first non-zero status.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time


def free_ports(count, host="127.0.0.1"):
    """`count` distinct TCP ports that were free a moment ago."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def tf_config(addresses, index):
    """The `TF_CONFIG` JSON of worker `index` in a cluster of `addresses`."""
    return json.dumps(
        {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}
    )


class LocalCluster:
    """N processes of `command` on this machine forming one TF cluster.

    Args:
        command: list of str. The command every worker runs.
        num_workers: int. Defaults to `2`.
        env: dict or None. Environment of the workers (`TF_CONFIG` is
            added). Defaults to `None` (this process's environment).
        log_dir: str or None. Each worker's stdout and stderr go to
            `<log_dir>/worker_<i>.log`; `None` lets them print here.
            Defaults to `None`.
        host: str. Address the workers listen on. Defaults to `"127.0.0.1"`.

    Example:

    ```python
    with LocalCluster([sys.executable, "train.py"], num_workers=2, log_dir="logs") as cluster:
        codes = cluster.wait(timeout=600)     # [0, 0]
    ```
    """

    def __init__(self, command, num_workers=2, env=None, log_dir=None, host="127.0.0.1"):
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
            raise ValueError(
                f"`num_workers` must be a positive integer. Received: {num_workers!r}"
            )
        if not command:
            raise ValueError("`command` must be a non-empty list of arguments.")
        self.command = list(command)
        self.num_workers = num_workers
        self.env = dict(os.environ if env is None else env)
        self.log_dir = log_dir
        self.host = host
        self.addresses = []
        self.processes = []
        self._logs = []

    def start(self):
        """Starts every worker (on fresh free ports); returns `self`."""
        if self.processes:
            raise RuntimeError("The cluster is already started; call stop() first.")
        self.addresses = [f"{self.host}:{p}" for p in free_ports(self.num_workers, self.host)]
        if self.log_dir is not None:
            os.makedirs(self.log_dir, exist_ok=True)
        for index in range(self.num_workers):
            env = dict(self.env, TF_CONFIG=tf_config(self.addresses, index))
            out = None
            if self.log_dir is not None:
                out = open(os.path.join(self.log_dir, f"worker_{index}.log"), "ab")
                self._logs.append(out)
            self.processes.append(
                subprocess.Popen(
                    self.command, env=env, stdout=out, stderr=subprocess.STDOUT if out else None
                )
            )
        return self

    def poll(self):
        """Exit status of each worker (`None` while it runs)."""
        return [p.poll() for p in self.processes]

    def wait(self, timeout=None, stop_on_failure=True):
        """Waits for every worker; returns their exit statuses.

        With `stop_on_failure`, the first worker exiting non-zero gets the
        others stopped. Raises `TimeoutError` (and stops the workers) after
        `timeout` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            codes = self.poll()
            if all(c is not None for c in codes):
                return codes
            if stop_on_failure and any(c not in (None, 0) for c in codes):
                self.stop()
                return self.poll()
            if deadline is not None and time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"Workers still running after {timeout} s: {codes}")
            time.sleep(0.2)

    def kill(self, index):
        """SIGKILLs worker `index` (as a preemption would)."""
        process = self.processes[index]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def stop(self, grace=5.0):
        """Terminates the workers still running (SIGKILL after `grace` s)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()
        self._logs = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m dimgrow_tf.distribute.launch",
        description="Run COMMAND as N local TensorFlow workers (TF_CONFIG set for each).",
    )
    parser.add_argument("--workers", type=int, default=2, help="number of workers (2)")
    parser.add_argument("--log-dir", default=None, help="write worker_<i>.log files here")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before stopping")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    with LocalCluster(command, args.workers, log_dir=args.log_dir) as cluster:
        try:
            codes = cluster.wait(timeout=args.timeout)
        except TimeoutError as err:
            print(err, file=sys.stderr)
            return 124
    failed = [c for c in codes if c != 0]
    if not failed:
        return 0
    return failed[0] if failed[0] > 0 else 128 - failed[0]  # -9 (SIGKILL) -> 137


if __name__ == "__main__":
    sys.exit(main())
