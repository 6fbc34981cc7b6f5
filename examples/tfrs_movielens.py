"""DimGrow in a TensorFlow Recommenders model (tf_keras) on MovieLens-100K.

A `tfrs.Model` with a `tfrs.tasks.Ranking` task predicts whether a user
rates a movie >= 4. Its embedding is a `dimgrow_tf.DimGrowEmbedding`
(every field starts at one dim); `DimGrowCallback` grows and shrinks the
fields inside `model.fit`, carrying tf_keras Adam's moments over. The
model is then retrained at the searched dims (`FixedFieldEmbedding`),
exported as a compact SavedModel, reloaded and served; the served
probabilities must equal the retrained model's.

`--task retrieval` runs the same search on a two-tower
`tfrs.tasks.Retrieval` model instead: one DimGrowEmbedding per tower
(user fields, item fields), one DimGrowCallback per embedding; the
retrained towers are saved with `tf.saved_model.save` and served.

Run (TFRS needs tf_keras):

    TF_USE_LEGACY_KERAS=1 .venv-tfrs/bin/python examples/tfrs_movielens.py --out runs/tfrs

Data: `--data DIR`, a split directory (`{train,valid,test}.csv` +
`stats.json`, the layout `dimgrow search` reads); by default the shared
MovieLens-100K split next to this repository when it exists, else
generated MovieLens-like data (same fields and vocabularies).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow loads

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import tensorflow_recommenders as tfrs  # noqa: E402
import tf_keras as keras  # noqa: E402

import dimgrow_tf as dg  # noqa: E402
from dimgrow_tf.data.datasets import load_split_dir  # noqa: E402
from dimgrow_tf.data.datasets import to_dataset  # noqa: E402
from tfrs_movielens_utils import movielens_like  # noqa: E402
from tfrs_movielens_utils import run_retrieval  # noqa: E402

SHARED_SPLIT = ROOT.parent / "shared" / "data" / "splits" / "movielens_100k"


class RankingModel(tfrs.Model):
    """`scorer` (functional: field ids -> probability) + a Ranking task.

    The scorer is a plain tf_keras functional model, so it is what gets
    exported; `embedding` is a `DimGrowEmbedding` (search) or a
    `FixedFieldEmbedding` (retrain).
    """

    def __init__(self, embedding, hidden=(32, 16)):
        super().__init__()
        inputs = {f.name: keras.Input((), dtype="int32", name=f.name)
                  for f in embedding.fields}
        x = embedding(inputs)
        for units in hidden:
            x = keras.layers.Dense(units, activation="relu")(x)
        probability = keras.layers.Dense(1, activation="sigmoid")(x)
        self.embedding = embedding
        self.scorer = keras.Model(inputs, probability, name="scorer")
        self.task = tfrs.tasks.Ranking(
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[keras.metrics.AUC(name="auc")],
        )

    def call(self, features, training=False):
        return self.scorer(features, training=training)

    def compute_loss(self, inputs, training=False):
        features, labels = inputs
        predictions = self.scorer(features, training=training)
        return self.task(labels=labels, predictions=predictions)


def load_data(path, rows, seed):
    """`(fields, splits, source)` from a split directory or generated."""
    if path is not None:
        fields, splits = load_split_dir(str(path))
        return fields, splits, str(path)
    fields, splits = movielens_like(rows, seed)
    return fields, splits, f"generated MovieLens-like data ({rows} rows)"


def fit(model, splits, args, callbacks=()):
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    train = to_dataset(*splits["train"], args.batch_size, shuffle=True, seed=args.seed)
    valid = to_dataset(*splits["valid"], 4096)
    stop = keras.callbacks.EarlyStopping("val_auc", mode="max", patience=2)
    return model.fit(train, validation_data=valid, epochs=args.epochs,
                     callbacks=[*callbacks, stop], verbose=args.verbose)


def test_auc(model, splits):
    features, labels = splits["test"]
    probs = model.scorer.predict(features, batch_size=4096, verbose=0)[:, 0]
    metric = keras.metrics.AUC()
    metric.update_state(labels, probs)
    return float(metric.result())


def run_ranking(fields, splits, args, out):
    config = dg.SearchConfig(alpha=args.alpha, gate_updates="train",
                             max_dim=args.max_dim, settle_checks=args.settle_checks)
    embedding = dg.DimGrowEmbedding(fields, output_dim=64, alpha=config.alpha,
                                    seed=args.seed, name="dimgrow_embedding")
    search_model = RankingModel(embedding)
    search = dg.DimGrowCallback(embedding, config)
    history = fit(search_model, splits, args, [search])
    result = search.result()
    result.save(str(out / "search_result.json"))

    retrained = RankingModel(dg.FixedFieldEmbedding(result.fields, output_dim=64,
                                                    name="field_embedding"))
    fit(retrained, splits, args)
    export = dg.export_saved_model(retrained.scorer, str(out / "exports"))

    kept = [f for f in result.fields if f.dim > 0]
    features = {k: v[:512] for k, v in splits["test"][0].items()}
    eager = retrained.scorer(features, training=False).numpy()[:, 0]
    served = tf.saved_model.load(export).signatures["serving_default"](
        **{f.name: tf.constant(features[f.name], tf.int64) for f in kept}
    )["probability"].numpy()
    return {
        "task": "ranking",
        "search_dims": result.dims,
        "search_total_dims": sum(result.dims.values()),
        "resizes": len(search.history),
        "search_epochs": len(history.history["loss"]),
        "search_test_auc": test_auc(search_model, splits),
        "retrained_test_auc": test_auc(retrained, splits),
        "export": export,
        "served_max_abs_diff": float(np.max(np.abs(served - eager))),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="split directory, or 'generated'; default: the shared "
                             "MovieLens-100K split if present, else generated data")
    parser.add_argument("--task", choices=("ranking", "retrieval"), default="ranking")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/tfrs"))
    parser.add_argument("--rows", type=int, default=20000,
                        help="rows of generated data (without a split directory)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--alpha", type=float, default=0.02)
    parser.add_argument("--max-dim", type=int, default=16)
    parser.add_argument("--settle-checks", type=int, default=dg.SearchConfig.settle_checks)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)
    if args.data is None and SHARED_SPLIT.is_dir():
        args.data = SHARED_SPLIT
    elif args.data == "generated":
        args.data = None
    return args


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    fields, splits, source = load_data(args.data, args.rows, args.seed)
    if args.task == "ranking":
        summary = run_ranking(fields, splits, args, args.out)
    else:
        summary = run_retrieval(fields, splits, args, args.out)
    summary.update(data=source, keras=dg.backend_compat.keras_name(),
                   keras_version=dg.backend_compat.keras_version(),
                   tfrs_version=tfrs.__version__)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    if summary["served_max_abs_diff"] > 1e-5:
        print("served predictions differ from the model's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
