import importlib.util
import sys

import pytest

from pipelines.modules import dimgrow_module


@pytest.mark.parametrize("backbone", ["wide_deep", "mlp", "deepfm"])
def test_backbones_without_optional_packages_are_accepted(backbone):
    hp = dimgrow_module.Hyperparameters.from_custom_config({"backbone": backbone})
    assert hp.train_settings().backbone == backbone


def test_unknown_and_unavailable_backbones_fail_before_training():
    with pytest.raises(ValueError, match=r"deepfm.\). Received: .dcn."):
        dimgrow_module.Hyperparameters.from_custom_config({"backbone": "dcn"})
    if importlib.util.find_spec("keras_rs") is None:
        with pytest.raises(ImportError, match=r"dimgrow-tf\[rs\]") as raised:
            dimgrow_module.Hyperparameters.from_custom_config({"backbone": "dcn_v2"})
        if sys.version_info < (3, 11):
            assert "'wide_deep', 'mlp' and 'deepfm' are available" in str(raised.value)
    else:
        hp = dimgrow_module.Hyperparameters.from_custom_config({"backbone": "dcn_v2"})
        assert hp.backbone == "dcn_v2"
