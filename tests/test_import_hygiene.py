import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
ROOT = REPO / "dimgrow_tf"
# dimgrow_tf is the core: it never imports the TFX stack, nor the client
# package `serving/` (which imports dimgrow_tf.export.request_utils), nor
# private modules of Keras or TensorFlow.
FORBIDDEN = ("tfx", "tensorflow_transform", "serving")
PRIVATE = ("keras.src", "tensorflow.python")


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def test_core_never_imports_tfx_tft_or_the_serving_clients():
    offenders = [f"{p}:{n}" for p in ROOT.rglob("*.py") for n in _imports(p)
                 if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_core_uses_no_private_module_paths():
    offenders = [f"{p}:{n}" for p in ROOT.rglob("*.py") for n in _imports(p)
                 if any(n == m or n.startswith(m + ".") for m in PRIVATE)]
    text = [f"{p}:{m}" for p in ROOT.rglob("*.py") for m in PRIVATE
            if f"{m}." in p.read_text() or f'"{m}"' in p.read_text()]
    assert offenders == [] and text == []


def test_serving_clients_build_requests_with_the_core_builder():
    for name in ("grpc_client.py", "rest_client.py"):
        text = (REPO / "serving" / name).read_text()
        assert "from dimgrow_tf.export import request_utils as ru" in text
    assert not (REPO / "serving" / "request_utils.py").exists()


def test_source_files_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in ROOT.rglob("*.py")}
    assert max(sizes.values()) <= 400, sizes
