"""Writes the `models.config` file that TF Serving reads."""

import posixpath
import uuid

import tensorflow as tf

from dimgrow_tf.export.saved_model_utils import existing_versions

CONFIG_FILE = "models.config"


def write_models_config(
    export_base,
    model_names=None,
    container_base="/models",
    num_versions=1,
    path=None,
):
    """Writes a TF Serving `ModelServerConfig` text proto for an export base.

    The config is built as a `model_server_config_pb2.ModelServerConfig`
    and printed with `google.protobuf.text_format` (needs
    `tensorflow-serving-api`).

    Each model is served from `<container_base>/<name>` (where the serving
    container mounts `export_base`), with the `latest` version policy. The
    file is written to a temporary name and renamed, so a running server
    polling it (`--model_config_file_poll_wait_seconds`) never reads half
    of it.

    Args:
        export_base: str. Directory holding `<model name>/<version>/`.
        model_names: list of str, or None for every directory of
            `export_base` that holds at least one integer version.
            Defaults to `None`.
        container_base: str. Path at which the server sees `export_base`.
            Defaults to `"/models"`.
        num_versions: int. How many of the newest versions to serve.
            Defaults to `1`.
        path: str or None. Output file. Defaults to
            `<export_base>/models.config`.

    Returns:
        The path written.

    Example:

    ```python
    dimgrow_tf.export.write_models_config("exports")
    # docker run -v $PWD/exports:/models tensorflow/serving \
    #     --model_config_file=/models/models.config
    ```
    """
    if model_names is None:
        model_names = sorted(
            name.rstrip("/") for name in tf.io.gfile.listdir(export_base)
            if existing_versions(posixpath.join(export_base, name.rstrip("/")))
        )
    if not model_names:
        raise ValueError(f"No exported model (name/<int version>/) in {export_base}.")
    if isinstance(num_versions, bool) or int(num_versions) < 1:
        raise ValueError(f"`num_versions` must be >= 1. Received: {num_versions}")
    try:
        from google.protobuf import text_format
        from tensorflow_serving.config import model_server_config_pb2
    except ImportError as err:
        raise ImportError(
            "Writing models.config needs `pip install tensorflow-serving-api` "
            "(the `serving` extra of dimgrow-tf), or pass `write_config=False`."
        ) from err
    config = model_server_config_pb2.ModelServerConfig()
    for name in model_names:
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = posixpath.join(container_base, name)
        entry.model_platform = "tensorflow"
        entry.model_version_policy.latest.num_versions = int(num_versions)
    path = path or posixpath.join(export_base, CONFIG_FILE)
    tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
    with tf.io.gfile.GFile(tmp, "w") as fh:
        fh.write(text_format.MessageToString(config))
    tf.io.gfile.rename(tmp, path, overwrite=True)
    return path
