import argparse

import pytest

from dimgrow_tf import cli


def _subparser(name):
    parser = cli._parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices[name]


@pytest.mark.parametrize("command, expected", [
    ("search", ["--batch-size BATCH_SIZE", "(default: 256)", "--alpha ALPHA",
                "(default: 0.02)", "--window WINDOW", "(default: 2)"]),
    ("retrain", ["(None: the search's setting, else 256) (default: None)"]),
    ("export", ["--export-base EXPORT_BASE", "(default: exports)"]),
])
def test_help_shows_defaults(command, expected):
    text = " ".join(_subparser(command).format_help().split())
    for snippet in expected:
        assert snippet in text


def test_retrain_settings_come_from_flags_then_the_search_then_defaults():
    args = _subparser("retrain").parse_args(["data", "--result", "r.json", "--epochs", "4"])
    searched = {"batch_size": 64, "epochs": 9, "seed": 7, "learning_rate": 0.01,
                "alpha": 0.1, "window": 3}
    settings = cli._settings(args, searched)
    assert (settings.epochs, settings.batch_size, settings.seed, settings.learning_rate,
            settings.patience) == (4, 64, 7, 0.01, 2)
    assert cli._settings(args, {}).batch_size == 256
