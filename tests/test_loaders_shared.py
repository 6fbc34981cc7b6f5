import os

import numpy as np
import pytest

from dimgrow_tf.data.criteo import CriteoLoader
from dimgrow_tf.data.dataset_spec import DatasetSpec
from dimgrow_tf.data.frappe import FrappeLoader
from dimgrow_tf.data.load_dataset import load_arrays
from dimgrow_tf.data.movielens import MovieLensLoader

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
CRITEO = os.path.join(DATA, "criteo", "criteo_kaggle_train_first10k.txt.gz")
FRAPPE = [os.path.join(DATA, "frappe", f"frappe_nfm.{s}.libfm.gz")
          for s in ("validation", "test")]
MOVIELENS = os.path.join(DATA, "movielens_100k")
SPLITS = os.path.join(DATA, "splits")

# Vocab sizes of shared/data/splits/README.md (max id + 1, missing included).
README_VOCAB = {
    "criteo": [27, 77, 59, 25, 190, 76, 52, 26, 73, 5, 21, 17, 36, 175, 386, 5521,
               4033, 56, 8, 3184, 93, 3, 2986, 2084, 5284, 1725, 24, 2035, 4724,
               9, 1149, 547, 4, 5037, 8, 12, 2525, 40, 1939],
    "frappe": [913, 4082, 7, 7, 2, 3, 2, 9, 76, 227],
    "movielens_100k": [943, 1682, 61, 2, 21, 795, 19, 72],
}


def needs(*paths):
    return pytest.mark.skipif(not all(os.path.exists(p) for p in paths),
                              reason="shared data absent")


def full_file_ids(loader, paths):
    table = loader.read(paths)
    vocab = loader.fit_vocabulary(table)
    features, labels = table.encode(vocab)
    return table, vocab, features, labels


def recipe_ids(features, missing):
    """Our ids in the splits' layout: missing first when present, no OOV."""
    out = {}
    for name, ids in features.items():
        assert (ids != 0).all()
        shift = 1 if missing[name] else 0
        out[name] = np.where(ids == 1, 0, ids - 2 + shift)
    return out


def compare_with_split_csv(dataset, features, labels):
    """Our full-file ids, permuted like the splits, equal the split CSVs."""
    path = os.path.join(SPLITS, dataset, "train.csv")
    if not os.path.exists(path):
        pytest.skip("shared splits absent")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    perm = np.random.RandomState(2025).permutation(len(labels))[: len(table)]
    np.testing.assert_array_equal(labels[perm], table[:, 0])
    for j, name in enumerate(features, start=1):
        np.testing.assert_array_equal(features[name][perm], table[:, j], err_msg=name)


@needs(CRITEO)
def test_shared_criteo_matches_the_splits_recipe():
    table, vocab, features, labels = full_file_ids(CriteoLoader(), CRITEO)
    stats = table.stats
    assert (stats.rows, stats.positives, stats.skipped) == (10000, 2182, 0)
    assert stats.positive_rate == pytest.approx(0.2182)
    assert len(features) == 39 and all(v.dtype == np.int32 for v in features.values())
    recipe_vocab = [vocab.vocab_size(n) - 2 + (stats.missing[n] > 0)
                    for n in vocab.field_names]
    assert recipe_vocab == README_VOCAB["criteo"]
    assert stats.missing["I12"] == 7735 and stats.missing["C22"] == 8182
    compare_with_split_csv("criteo", recipe_ids(features, stats.missing), labels)


@needs(CRITEO)
def test_shared_criteo_split_spec_gives_oov_on_valid_and_test():
    data = load_arrays(DatasetSpec("criteo", train=CRITEO))
    rows = [len(data.splits[s][1]) for s in ("train", "valid", "test")]
    positives = [data.stats[s].positives for s in ("train", "valid", "test")]
    assert rows == [8000, 1000, 1000] and positives == [1775, 180, 227]
    assert data.stats["train"].oov == {n: 0 for n in data.vocabulary.field_names}
    assert sum(data.stats["valid"].oov.values()) == 3277
    assert sum(data.stats["test"].oov.values()) == 3336


@needs(MOVIELENS)
def test_shared_movielens_matches_the_splits_recipe():
    table, vocab, features, labels = full_file_ids(MovieLensLoader(), MOVIELENS)
    stats = table.stats
    assert (stats.rows, stats.positives, stats.skipped) == (100000, 55375, 0)
    assert stats.notes == {} and stats.missing["year"] == 9
    assert sum(stats.missing.values()) == 9
    recipe_vocab = [vocab.vocab_size(n) - 2 + (stats.missing[n] > 0)
                    for n in vocab.field_names]
    assert recipe_vocab == README_VOCAB["movielens_100k"]
    ids = {n: v - 2 for n, v in features.items()}
    ids["year"] = np.where(features["year"] == 1, 71, features["year"] - 2)
    compare_with_split_csv("movielens_100k", ids, labels)


@needs(*FRAPPE)
def test_shared_frappe_matches_the_splits_recipe():
    table, vocab, features, labels = full_file_ids(FrappeLoader(), FRAPPE)
    stats = table.stats
    assert (stats.rows, stats.positives, stats.skipped) == (86582, 28599, 0)
    assert [vocab.vocab_size(n) - 2 for n in vocab.field_names] == README_VOCAB["frappe"]
    compare_with_split_csv("frappe", {n: v - 2 for n, v in features.items()}, labels)
