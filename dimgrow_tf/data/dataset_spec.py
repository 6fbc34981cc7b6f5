"""Which raw files to load, in which format, and how to split them."""

import dataclasses
import json
import os
from typing import Any, Dict, Optional, Tuple, Union

from dimgrow_tf.data.csv_schema import CsvSchema
from dimgrow_tf.data.loader_utils import check_known_keys
from dimgrow_tf.data.loader_utils import check_on_error

FORMATS = ("criteo", "frappe", "movielens", "csv")
_PATH_KEYS = ("train", "valid", "test", "vocabulary")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A raw dataset: format, files, split, vocabulary and bad-input policy.

    Either give `valid` and `test` files, or neither: then the `train`
    rows are shuffled with `numpy.random.RandomState(seed).permutation`
    and cut at `int(split[0] * n)` and `int(split[1] * n)` into train,
    valid and test (with the defaults this is exactly the recipe of
    `shared/data/splits/README.md`). The vocabulary is fitted on the train
    part only, so valid/test values unseen in it map to the OOV id.

    Args:
        format: str. `"criteo"`, `"frappe"`, `"movielens"` or `"csv"`.
        train: str or tuple of str. Training file(s); for MovieLens a
            folder with `u.data`, `u.user`, `u.item` (or the `u.data` path).
        valid: str, tuple of str or None. Validation file(s). Defaults to
            `None`.
        test: str, tuple of str or None. Test file(s). Defaults to `None`.
        split: tuple of 2 floats. Cut points used when `valid`/`test` are
            `None`. Defaults to `(0.8, 0.9)`.
        seed: int. Shuffle seed of that split. Defaults to `2025`.
        schema: CsvSchema, dict or None. Required for `"csv"`. Defaults to
            `None`.
        options: dict. Extra loader arguments (e.g. `{"threshold": 5}` for
            MovieLens, `{"field_names": [...]}` for libFM). Defaults to `{}`.
        min_count: int. Training values seen fewer times map to OOV.
            Defaults to `1`.
        on_error: str. `"raise"` or `"skip"`. Defaults to `"raise"`.
        vocabulary: str or None. A saved `Vocabulary` JSON to use instead of
            fitting one. Defaults to `None`.
        batch_size: int. Batch size of the `tf.data` pipelines. Defaults to
            `256`.

    Example:

    ```python
    spec = DatasetSpec("criteo", train="criteo_kaggle_train_first10k.txt.gz",
                       on_error="skip", min_count=2)
    spec = DatasetSpec.load("spec.json")   # same keys; paths relative to it
    ```
    """

    format: str
    train: Union[str, Tuple[str, ...]]
    valid: Optional[Union[str, Tuple[str, ...]]] = None
    test: Optional[Union[str, Tuple[str, ...]]] = None
    split: Tuple[float, float] = (0.8, 0.9)
    seed: int = 2025
    schema: Optional[CsvSchema] = None
    options: Dict[str, Any] = dataclasses.field(default_factory=dict)
    min_count: int = 1
    on_error: str = "raise"
    vocabulary: Optional[str] = None
    batch_size: int = 256

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(
                f"`format` must be one of {FORMATS}. Received: {self.format!r}"
            )
        for key in ("train", "valid", "test"):
            value = getattr(self, key)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, key, tuple(os.fspath(v) for v in value))
            elif value is not None:
                object.__setattr__(self, key, os.fspath(value))
        if (self.valid is None) != (self.test is None):
            raise ValueError("Give both `valid` and `test`, or neither (then "
                             "`train` is split).")
        split = tuple(float(x) for x in self.split)
        if len(split) != 2 or not 0.0 < split[0] <= split[1] <= 1.0:
            raise ValueError(
                f"`split` must be two cut points 0 < a <= b <= 1. "
                f"Received: split={self.split!r}"
            )
        object.__setattr__(self, "split", split)
        if isinstance(self.schema, dict):
            object.__setattr__(self, "schema", CsvSchema.from_config(self.schema))
        if self.format == "csv" and not isinstance(self.schema, CsvSchema):
            raise ValueError('`format="csv"` needs a `schema` (CsvSchema).')
        check_on_error(self.on_error)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) \
                or self.batch_size < 1:
            raise ValueError(
                f"`batch_size` must be an integer >= 1. Received: {self.batch_size!r}"
            )
        object.__setattr__(self, "options", dict(self.options))

    def get_config(self):
        """A JSON-ready dict; `from_config` gives an equal spec."""
        config = dataclasses.asdict(self)
        config["schema"] = self.schema.get_config() if self.schema else None
        for key in ("train", "valid", "test", "split"):
            if isinstance(config[key], tuple):
                config[key] = list(config[key])
        return config

    @classmethod
    def from_config(cls, config):
        """Builds a spec from a dict with the constructor's keys."""
        check_known_keys(cls, config)
        return cls(**config)

    @classmethod
    def load(cls, path):
        """Reads a JSON spec; relative paths are taken from its folder."""
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
        if not isinstance(config, dict):
            raise ValueError(f"{path}: a dataset spec must be a JSON object.")
        base = os.path.dirname(os.path.abspath(path))
        for key in _PATH_KEYS:
            value = config.get(key)
            if isinstance(value, str):
                config[key] = os.path.join(base, value)
            elif isinstance(value, list):
                config[key] = [os.path.join(base, v) for v in value]
        return cls.from_config(config)
