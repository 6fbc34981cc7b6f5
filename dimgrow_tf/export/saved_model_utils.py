"""SavedModel post-processing and the TF Serving version layout."""

import posixpath
import uuid

import tensorflow as tf

STAGING_PREFIX = ".staging-"


def finalize_saved_model(export_dir, method_names):
    """Sets signature method names and clears every device in the graph.

    `tf.saved_model.save` marks every signature as a predict signature and
    pins its checkpoint save/restore functions to the CPU. TF Serving's
    Classify and Regress APIs require the classify/regress method names,
    and an export without any device string runs unchanged on CPU and GPU
    serving images (as TF1's `clear_devices=True` exports did).
    `fingerprint.pb` holds a hash of the original `saved_model.pb`;
    TensorFlow has no public API to recompute it, so the stale file is
    removed (it is optional: loaders only read it for telemetry).

    Args:
        export_dir: str. A SavedModel directory.
        method_names: dict `{signature name: method name}`.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    path = posixpath.join(export_dir, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as fh:
        proto.ParseFromString(fh.read())
    for meta_graph in proto.meta_graphs:
        for name, method in method_names.items():
            meta_graph.signature_def[name].method_name = method
        for node in meta_graph.graph_def.node:
            node.device = ""
        for function in meta_graph.graph_def.library.function:
            for node in function.node_def:
                node.device = ""
        for node in meta_graph.object_graph_def.nodes:
            if node.HasField("variable"):
                node.variable.device = ""
    with tf.io.gfile.GFile(path, "wb") as fh:
        fh.write(proto.SerializeToString())
    fingerprint = posixpath.join(export_dir, "fingerprint.pb")
    if tf.io.gfile.exists(fingerprint):
        tf.io.gfile.remove(fingerprint)


def device_strings(export_dir):
    """Every non-empty device string in a SavedModel (for checks)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(posixpath.join(export_dir, "saved_model.pb"), "rb") as fh:
        proto.ParseFromString(fh.read())
    found = []
    for meta_graph in proto.meta_graphs:
        found += [n.device for n in meta_graph.graph_def.node if n.device]
        for function in meta_graph.graph_def.library.function:
            found += [n.device for n in function.node_def if n.device]
        found += [
            n.variable.device for n in meta_graph.object_graph_def.nodes
            if n.HasField("variable") and n.variable.device
        ]
    return found


def non_core_ops(export_dir):
    """Sorted op types of a SavedModel that core TensorFlow does not define.

    An op is core when `tf.raw_ops` has it (generated from TensorFlow's own
    op registry); any other op (e.g. tensorflow-text's `FastWordpiece...`)
    must be registered in the model server too.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(posixpath.join(export_dir, "saved_model.pb"), "rb") as fh:
        proto.ParseFromString(fh.read())
    functions = set()
    ops = set()
    for meta_graph in proto.meta_graphs:
        library = meta_graph.graph_def.library
        functions |= {f.signature.name for f in library.function}
        ops |= {n.op for n in meta_graph.graph_def.node}
        for function in library.function:
            ops |= {n.op for n in function.node_def}
    return sorted(op for op in ops - functions if not hasattr(tf.raw_ops, op))


def existing_versions(model_dir):
    """Sorted integer version directories under `model_dir`."""
    if not tf.io.gfile.isdir(model_dir):
        return []
    versions = []
    for name in tf.io.gfile.listdir(model_dir):
        name = name.rstrip("/")
        if name.isdigit() and tf.io.gfile.isdir(posixpath.join(model_dir, name)):
            versions.append(int(name))
    return sorted(versions)


def resolve_version(model_dir, version):
    """`version`, checked, or one more than the newest existing version."""
    if version is None:
        return (existing_versions(model_dir) or [0])[-1] + 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be a positive integer. Received: {version!r}")
    if tf.io.gfile.exists(posixpath.join(model_dir, str(version))):
        raise FileExistsError(
            f"Version {version} already exists in {model_dir}; versions are "
            "never overwritten. Pass another `version` or `version=None`."
        )
    return version


def staging_dir(model_dir, version):
    """A fresh hidden directory next to the versions (TF Serving ignores
    directories whose name is not an integer)."""
    return posixpath.join(
        model_dir, f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:12]}"
    )


def publish(staging, final):
    """Moves a finished export into place with one rename.

    On a local (POSIX) file system the rename is atomic, so TF Serving and
    readers see either no version or the complete one.
    """
    if tf.io.gfile.exists(final):
        raise FileExistsError(f"{final} appeared during the export; not replacing it.")
    tf.io.gfile.rename(staging, final, overwrite=False)
