"""Atomic file writes shared by results, vocabularies and the CLI."""

import json
import os
import tempfile


def write_json_atomic(path, obj, **dump_kwargs):
    """Writes `obj` as JSON to `path` via a temporary file and a rename, so
    an interrupted write never leaves a truncated file behind."""
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, **dump_kwargs)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
