"""README's two commands are what CI and the setup scripts actually run."""

import configparser
import glob
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONSTRAINTS = os.path.join(ROOT, "requirements", "constraints-py3.11.txt")


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _readme_commands():
    """The commands of README.md's first ```bash block, comments dropped."""
    block = re.search(r"^```bash\n(.*?)^```", _read("README.md"), re.S | re.M)
    assert block, "README.md has no ```bash block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def _script_commands(path):
    """A shell script's command lines, comments, blank lines, `set` and `cd` dropped."""
    lines = [line.strip() for line in _read(path).splitlines()]
    return [line for line in lines
            if line and not line.startswith("#") and not re.match(r"(set|cd)\s", line)]


def test_readme_starts_with_the_demo_and_test_commands():
    assert _readme_commands() == ["bash dev.sh demo", "bash dev.sh test"]


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _readme_commands()[1]
    assert _script_commands(os.path.join(".ci", "run")) == [test_command]


def test_dev_sh_has_the_readme_subcommands():
    proc = subprocess.run(["bash", os.path.join(ROOT, "dev.sh"), "no-such-command"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    for command in _readme_commands():
        assert re.search(rf"\b{command.split()[-1]}\b", proc.stderr), proc.stderr


SETUP_SCRIPTS = ["dev.sh", os.path.join(".ci", "run")] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "pipelines", "*.sh")))


@pytest.mark.parametrize("path", SETUP_SCRIPTS)
def test_setup_scripts_read_nothing_outside_the_repository(path):
    text = _read(path)
    assert not re.search(r"\.\./+shared|(^|[\s\"'=/])shared/", text, re.M), (
        f"{path} refers to ../shared: a fresh clone has none")
    assert "/work/" not in text


def test_keras38_test_list_names_existing_test_files():
    lines = [line.split("#", 1)[0].strip() for line in _read("tests", "keras38_tests.txt")
             .splitlines()]
    files = [line for line in lines if line]
    assert files, "tests/keras38_tests.txt lists no test"
    missing = [f for f in files if not os.path.isfile(os.path.join(ROOT, f))]
    assert not missing, f"tests/keras38_tests.txt lists missing files: {missing}"
    assert len(set(files)) == len(files)


def _pins():
    pins = {}
    for line in _read("requirements", "constraints-py3.11.txt").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"not an exact pin: {line!r}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _setup_cfg_requirements(extras=True):
    """install_requires (then, with `extras`, every extra's requirements) of setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    def lines(text):  # one requirement a line; a line may carry a `; marker`
        return [line.strip() for line in text.splitlines() if line.strip()]

    reqs = lines(cfg["options"]["install_requires"])
    if extras:
        for extra in cfg["options.extras_require"].values():
            reqs += lines(extra)
    return reqs


def test_core_lock_pins_setup_cfg_requirements_within_their_ranges():
    from packaging.requirements import Requirement

    pins = _pins()
    assert "dimgrow-tf" not in pins, "the lock must not pin this package itself"
    for package in ("tensorflow", "keras", "numpy", "protobuf", "keras-rs", "keras-hub",
                    "tensorflow-text", "tensorflow-serving-api", "tensorboard",
                    "matplotlib", "pandas", "hypothesis", "pytest", "pip"):
        assert package in pins, f"{package} is not pinned in {CONSTRAINTS}"
    for text in _setup_cfg_requirements():
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name != "protobuf", "setup.cfg must not pin protobuf (core and TFX differ)"
        assert name in pins, f"{name} (setup.cfg) is not pinned in the lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"lock pins {name}=={pins[name]}, outside setup.cfg's {req.specifier}")
        if name in ("tensorflow", "keras", "numpy"):
            assert any(s.operator == "<" for s in req.specifier), (
                f"{name} needs a tested upper bound in setup.cfg")


def test_tfx_lock_is_in_setup_cfg_ranges():
    from packaging.requirements import Requirement

    tfx = {}
    for line in _read("pipelines", "requirements-tfx.txt").splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            tfx[re.sub(r"[-_.]+", "-", name).lower()] = version
    for text in _setup_cfg_requirements(extras=False):
        req = Requirement(text)
        assert req.specifier.contains(tfx[req.name], prereleases=True), (
            f"TFX lock pins {req.name}=={tfx[req.name]}, outside setup.cfg's {req.specifier}")
