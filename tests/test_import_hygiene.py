import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "dimgrow_tf"
FORBIDDEN = ("tfx", "tensorflow_transform")


def test_core_never_imports_tfx_or_tft():
    offenders = []
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}:{n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_source_files_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in ROOT.rglob("*.py")}
    assert max(sizes.values()) <= 400, sizes
