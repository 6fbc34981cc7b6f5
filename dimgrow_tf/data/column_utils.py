"""Helpers of `ListColumn` and `TextColumn`: checks and the `kind` switch."""

import dataclasses
import numbers

from dimgrow_tf.field_config import COMBINERS
from dimgrow_tf.field_config import FieldConfig

COLUMN_KINDS = ("list", "text")
TOKENIZER_KEYS = ("vocabulary", "lowercase", "max_len")


def column_from_config(config):
    """A `ListColumn` or `TextColumn` from its config (`kind` picks which);
    a column object is returned as it is."""
    from dimgrow_tf.data.list_column import ListColumn
    from dimgrow_tf.data.text_column import TextColumn

    if isinstance(config, (ListColumn, TextColumn)):
        return config
    if not isinstance(config, dict):
        raise ValueError(
            "A `multivalent` column must be an object like {\"name\": \"genres\", "
            f"\"kind\": \"list\", \"separator\": \"|\"}}. Received: {config!r}")
    kind = config.get("kind")
    classes = {"list": ListColumn, "text": TextColumn}
    if kind not in classes:
        raise ValueError(
            f"Column {config.get('name')!r}: `kind` must be one of {COLUMN_KINDS} "
            f"(a list of values, or a text to tokenize). Received: kind={kind!r}")
    return classes[kind].from_config(config)


def strip_kind(cls, config):
    """`config` without its `kind` (checked against `cls.kind`) and with
    known keys only."""
    config = dict(config)
    kind = config.pop("kind", cls.kind)
    if kind != cls.kind:
        raise ValueError(f"{cls.__name__} has kind {cls.kind!r}. Received: kind={kind!r}")
    keys = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(config) - set(keys))
    if unknown:
        raise ValueError(f"Column {config.get('name')!r}: unknown keys {unknown} for kind "
                         f"{cls.kind!r} (its keys: {['kind'] + keys}).")
    return config


def check_common(column):
    """Checks the name, combiner and max_len every column kind has."""
    FieldConfig(column.name, 1)
    if column.combiner not in COMBINERS:
        raise ValueError(
            f"Column {column.name!r}: `combiner` must be one of {COMBINERS}. "
            f"Received: combiner={column.combiner!r}")
    if column.max_len is not None:
        check_positive_int(column.name, "max_len", column.max_len)


def check_positive_int(name, arg, value, minimum=1):
    """Raises a ValueError naming the column unless `value >= minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or value < minimum:
        raise ValueError(f"Column {name!r}: `{arg}` must be an integer >= {minimum}. "
                         f"Received: {arg}={value!r}")


def tokenizer_config(tokenizer):
    """The JSON-ready arguments of a `TextTokenizer` (its vocabulary included)."""
    return {"vocabulary": tokenizer.vocabulary, "lowercase": tokenizer.lowercase,
            "max_len": tokenizer.max_len}


def check_tokenizer_config(name, config):
    """Returns a text field's tokenizer config with exactly `TOKENIZER_KEYS`."""
    if not isinstance(config, dict) or set(config) != set(TOKENIZER_KEYS):
        raise ValueError(
            f"Field {name!r} has kind 'text': its entry must be a tokenizer "
            f"config with keys {list(TOKENIZER_KEYS)}. Received: {config!r}")
    vocabulary = config["vocabulary"]
    if vocabulary is not None and (isinstance(vocabulary, str) or len(vocabulary) < 3):
        raise ValueError(f"Field {name!r}: a WordPiece `vocabulary` is a list of at "
                         "least 3 tokens, or None for bytes.")
    if config["max_len"] is not None:
        check_positive_int(name, "max_len", config["max_len"])
    return {"vocabulary": None if vocabulary is None else list(vocabulary),
            "lowercase": bool(config["lowercase"]), "max_len": config["max_len"]}
