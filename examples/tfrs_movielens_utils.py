"""Helpers of tfrs_movielens.py: generated data and the two-tower model."""

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs
import tf_keras as keras

import dimgrow_tf as dg
from dimgrow_tf.data.datasets import to_dataset

# MovieLens-100K's fields and vocabularies (shared/data/splits/movielens_100k).
VOCAB = {"user_id": 943, "item_id": 1682, "age": 61, "gender": 2,
         "occupation": 21, "zip": 795, "genre": 19, "year": 72}
USER_FIELDS = ("user_id", "age", "gender", "occupation", "zip")
ITEM_FIELDS = ("item_id", "genre", "year")


def movielens_like(rows=20000, seed=0):
    """Generated data shaped like the MovieLens-100K split.

    Users and items have latent tastes (rank 4); a user's age, gender,
    occupation and zip and an item's genre and year are fixed attributes
    drawn once per id; the label is a Bernoulli draw of
    `sigmoid(<u, v> + item bias + genre bias)`, split 80/10/10.

    Returns:
        `(fields, {split: (features, labels)})` as `load_split_dir` does.
    """
    rng = np.random.default_rng(seed)
    users = {k: rng.integers(0, VOCAB[k], VOCAB["user_id"]) for k in USER_FIELDS[1:]}
    items = {k: rng.integers(0, VOCAB[k], VOCAB["item_id"]) for k in ITEM_FIELDS[1:]}
    user_taste = rng.normal(0, 0.8, (VOCAB["user_id"], 4))
    item_taste = rng.normal(0, 0.8, (VOCAB["item_id"], 4))
    item_bias = rng.normal(0, 0.7, VOCAB["item_id"])
    genre_bias = rng.normal(0, 0.5, VOCAB["genre"])
    user = rng.integers(0, VOCAB["user_id"], rows)
    item = np.minimum(rng.zipf(1.3, rows) - 1, VOCAB["item_id"] - 1)
    logit = (np.sum(user_taste[user] * item_taste[item], axis=1) + item_bias[item]
             + genre_bias[items["genre"][item]] + 0.2)
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("float32")
    features = {"user_id": user, "item_id": item}
    features.update({k: v[user] for k, v in users.items()})
    features.update({k: v[item] for k, v in items.items()})
    features = {k: features[k].astype("int32") for k in VOCAB}
    order = rng.permutation(rows)
    cuts = np.split(order, [int(0.8 * rows), int(0.9 * rows)])
    splits = {name: ({k: v[idx] for k, v in features.items()}, labels[idx])
              for name, idx in zip(("train", "valid", "test"), cuts)}
    return [dg.FieldConfig(k, n) for k, n in VOCAB.items()], splits


def tower(embedding, names, name, units=32):
    """Functional tower: field ids -> `units`-wide vector."""
    inputs = {n: keras.Input((), dtype="int32", name=n) for n in names}
    x = keras.layers.Dense(units)(embedding(inputs))
    return keras.Model(inputs, x, name=name)


class TwoTowerModel(tfrs.Model):
    """User tower and item tower, trained with a Retrieval task (in-batch
    softmax over the batch's items)."""

    def __init__(self, user_embedding, item_embedding):
        super().__init__()
        self.user_tower = tower(user_embedding, USER_FIELDS, "user_tower")
        self.item_tower = tower(item_embedding, ITEM_FIELDS, "item_tower")
        self.task = tfrs.tasks.Retrieval()

    def compute_loss(self, inputs, training=False):
        features, _ = inputs
        query = self.user_tower({k: features[k] for k in USER_FIELDS}, training=training)
        candidate = self.item_tower({k: features[k] for k in ITEM_FIELDS},
                                    training=training)
        return self.task(query, candidate, compute_metrics=False)


def _positives(split):
    features, labels = split
    keep = labels > 0.5
    return {k: v[keep] for k, v in features.items()}, labels[keep]


def _fit(model, splits, args, callbacks=()):
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate * 10))
    train = to_dataset(*_positives(splits["train"]), args.batch_size, shuffle=True,
                       seed=args.seed)
    valid = to_dataset(*_positives(splits["valid"]), 1024)
    stop = keras.callbacks.EarlyStopping("val_loss", patience=2)
    return model.fit(train, validation_data=valid, epochs=args.epochs,
                     callbacks=[*callbacks, stop], verbose=args.verbose)


def _recall_at_10(model, splits):
    """Share of test positives whose item is in the user's top 10 items."""
    features, _ = _positives(splits["test"])
    items = {k: np.zeros(VOCAB["item_id"], "int32") for k in ITEM_FIELDS}
    items["item_id"] = np.arange(VOCAB["item_id"], dtype="int32")
    for split in splits.values():  # each item's genre and year, where seen
        for k in ITEM_FIELDS[1:]:
            items[k][split[0]["item_id"]] = split[0][k]
    candidates = model.item_tower.predict(items, batch_size=4096, verbose=0)
    queries = model.user_tower.predict({k: features[k] for k in USER_FIELDS},
                                       batch_size=4096, verbose=0)
    top = np.argsort(-(queries @ candidates.T), axis=1)[:, :10]
    return float(np.mean(np.any(top == features["item_id"][:, None], axis=1)))


def _save_tower(model, path):
    """Saves a tower as a SavedModel with one `serving_default` signature."""
    names = [i.name for i in model.inputs]
    spec = {n: tf.TensorSpec([None], tf.int32, name=n) for n in names}
    serve = tf.function(lambda ids: {"embedding": model(ids, training=False)})
    tf.saved_model.save(model, path, signatures=serve.get_concrete_function(spec))
    return path


def run_retrieval(fields, splits, args, out):
    """Search both towers' widths, retrain at the final dims, save and serve."""
    by_name = {f.name: f for f in fields}
    config = dg.SearchConfig(alpha=args.alpha, gate_updates="train", monitor="val_loss",
                             max_dim=args.max_dim, settle_checks=args.settle_checks)
    user_emb = dg.DimGrowEmbedding([by_name[n] for n in USER_FIELDS], output_dim=32,
                                   alpha=args.alpha, seed=args.seed, name="user_dimgrow")
    item_emb = dg.DimGrowEmbedding([by_name[n] for n in ITEM_FIELDS], output_dim=32,
                                   alpha=args.alpha, seed=args.seed, name="item_dimgrow")
    searched = TwoTowerModel(user_emb, item_emb)
    searches = [dg.DimGrowCallback(user_emb, config), dg.DimGrowCallback(item_emb, config)]
    _fit(searched, splits, args, searches)
    results = [s.result() for s in searches]
    retrained = TwoTowerModel(
        dg.FixedFieldEmbedding(results[0].fields, output_dim=32, name="user_fixed"),
        dg.FixedFieldEmbedding(results[1].fields, output_dim=32, name="item_fixed"))
    _fit(retrained, splits, args)
    path = _save_tower(retrained.user_tower, str(out / "user_tower"))
    features = {k: splits["test"][0][k][:512] for k in USER_FIELDS}
    eager = retrained.user_tower(features, training=False).numpy()
    served = tf.saved_model.load(path).signatures["serving_default"](
        **{k: tf.constant(v) for k, v in features.items()})["embedding"].numpy()
    return {
        "task": "retrieval",
        "search_dims": {**results[0].dims, **results[1].dims},
        "search_total_dims": results[0].total_dims + results[1].total_dims,
        "resizes": sum(len(s.history) for s in searches),
        "search_recall_at_10": _recall_at_10(searched, splits),
        "retrained_recall_at_10": _recall_at_10(retrained, splits),
        "export": path,
        "served_max_abs_diff": float(np.max(np.abs(served - eager))),
    }
