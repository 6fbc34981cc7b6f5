"""Raw files -> vocabulary, id arrays and `tf.data` pipelines."""

import dataclasses
from typing import Dict, List, Tuple

import numpy as np

from dimgrow_tf.data.criteo import CriteoLoader
from dimgrow_tf.data.csv_loader import CsvLoader
from dimgrow_tf.data.dataset_spec import DatasetSpec
from dimgrow_tf.data.datasets import to_dataset
from dimgrow_tf.data.frappe import FrappeLoader
from dimgrow_tf.data.load_stats import LoadStats
from dimgrow_tf.data.movielens import MovieLensLoader
from dimgrow_tf.data.vocabulary import Vocabulary
from dimgrow_tf.field_config import FieldConfig

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass
class LoadedData:
    """The result of `load_arrays`.

    Args:
        fields: list of FieldConfig. One per field (width 1), vocab sizes
            from the vocabulary (ids 0 = OOV, 1 = missing included); list
            and text columns with their combiner.
        splits: dict. `"train"`, `"valid"`, `"test"` -> `(features,
            labels)`: dict field -> int32 ids (`(rows, length)` padded
            with -1 for list and text fields), float32 labels.
        vocabulary: Vocabulary. The mapping used (save it for serving).
        stats: dict. `LoadStats` per split (rows, positives, missing,
            OOV), plus `"source"` with the file-level counts (lines,
            skipped rows and reasons) of each file read.
    """

    fields: List[FieldConfig]
    splits: Dict[str, Tuple[Dict[str, np.ndarray], np.ndarray]]
    vocabulary: Vocabulary
    stats: Dict[str, LoadStats]


def make_loader(spec):
    """The `RowLoader` for `spec.format`, with `spec.on_error`/`options`."""
    if spec.format == "criteo":
        return CriteoLoader(on_error=spec.on_error, **spec.options)
    if spec.format == "frappe":
        return FrappeLoader(on_error=spec.on_error, **spec.options)
    if spec.format == "movielens":
        return MovieLensLoader(on_error=spec.on_error, **spec.options)
    return CsvLoader(spec.schema, on_error=spec.on_error, **spec.options)


def load_arrays(spec) -> LoadedData:
    """Reads, splits and encodes a raw dataset into id arrays.

    Args:
        spec: DatasetSpec, dict, or path of a JSON spec.

    Returns:
        A `LoadedData`.

    Raises:
        MalformedRowError: a malformed row under `on_error="raise"`.
        ValueError: no training rows, or a vocabulary that does not fit.

    Example:

    ```python
    data = load_arrays(DatasetSpec("movielens", train="shared/data/movielens_100k"))
    data.stats["test"].oov            # values unseen in train, per field
    data.vocabulary.save("vocab.json")
    ```
    """
    spec = _as_spec(spec)
    loader = make_loader(spec)
    if spec.valid is None:
        table = loader.read(spec.train)
        n = len(table)
        perm = np.random.RandomState(spec.seed).permutation(n)
        a, b = int(spec.split[0] * n), int(spec.split[1] * n)
        tables = dict(zip(SPLITS, (table.take(perm[:a]), table.take(perm[a:b]),
                                   table.take(perm[b:]))))
        source = table.stats
    else:
        tables = {s: loader.read(getattr(spec, s)) for s in SPLITS}
        source = tables["train"].stats
        for s in SPLITS[1:]:
            source = source.merged(tables[s].stats)
    if not len(tables["train"]):
        raise ValueError(f"No training rows in {spec.train!r} ({source.summary()})")
    if spec.vocabulary is not None:
        vocab = Vocabulary.load(spec.vocabulary)
        if vocab.field_names != loader.field_names:
            raise ValueError(
                f"Vocabulary {spec.vocabulary!r} has fields {vocab.field_names}; "
                f"the {spec.format} loader gives {loader.field_names}"
            )
        other = {n: (vocab.kinds[n], k) for n, k in loader.kinds.items()
                 if vocab.kinds[n] != k}
        if other:
            raise ValueError(
                f"Vocabulary {spec.vocabulary!r} has other kinds than the "
                f"{spec.format} loader: {{field: (vocabulary, loader)}} = {other}"
            )
    else:
        vocab = loader.fit_vocabulary(tables["train"], min_count=spec.min_count)
    fields = loader.field_configs(vocab)
    splits = {s: t.encode(vocab, fields) for s, t in tables.items()}
    stats = {s: t.stats for s, t in tables.items()}
    stats["source"] = source
    return LoadedData(fields, splits, vocab, stats)


def load_dataset(spec):
    """Raw files -> `(fields, train_ds, valid_ds, test_ds)` for `model.fit`.

    Each dataset yields `(features, labels)` batches of `spec.batch_size`:
    a dict with one int32 tensor per field name (the inputs of
    `dimgrow_tf.build_search_model`; a list or text field: `(batch,
    length)` ids padded with -1) and float32 labels. The train dataset
    is reshuffled every epoch (seeded by `spec.seed`).

    Args:
        spec: DatasetSpec, dict, or path of a JSON spec.

    Returns:
        `(fields, train_ds, valid_ds, test_ds)`.

    Example:

    ```python
    fields, train_ds, valid_ds, test_ds = load_dataset(
        DatasetSpec("criteo", train="criteo_kaggle_train_first10k.txt.gz"))
    model, emb = dimgrow_tf.build_search_model(fields)
    model.fit(train_ds, validation_data=valid_ds, epochs=2)
    ```
    """
    spec = _as_spec(spec)
    data = load_arrays(spec)
    train, valid, test = (data.splits[s] for s in SPLITS)
    return (
        data.fields,
        to_dataset(*train, spec.batch_size, shuffle=True, seed=spec.seed),
        to_dataset(*valid, spec.batch_size),
        to_dataset(*test, spec.batch_size),
    )


def _as_spec(spec):
    if isinstance(spec, DatasetSpec):
        return spec
    if isinstance(spec, dict):
        return DatasetSpec.from_config(spec)
    return DatasetSpec.load(spec)
