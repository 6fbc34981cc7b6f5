"""An endless synthetic CTR stream at any vocabulary scale, made in-graph."""

import numpy as np
import tensorflow as tf


def synthetic_stream(vocab_sizes, weights, batch_size, seed=0, interactions=True):
    """A `tf.data.Dataset` of `(ids dict, labels)` batches, generated on the fly.

    Nothing of vocabulary size is materialised, so the stream costs no
    memory at any scale (e.g. the 33.8M ids of full Criteo). Ids follow a
    log-uniform (Zipf-like) law, `id = floor(V ** u) - 1` with `u ~ U(0, 1)`.
    Every id has a pseudo-random effect `h_f(id) in [-1, 1]` from a hash
    of the id; the click logit is `sum_f w_f * h_f(id_f)` plus, when
    `interactions`, `sum_{f<g} sqrt(w_f w_g) h'_f(id_f) h'_g(id_g)` over
    fields with `w > 0`. Fields with weight 0 are noise.

    Args:
        vocab_sizes: dict `{field name: vocabulary size}`.
        weights: dict `{field name: signal weight >= 0}`.
        batch_size: int.
        seed: int. Defaults to `0`.
        interactions: bool. Defaults to `True`.

    Example:

    ```python
    ds = synthetic_stream({"a": 10**7, "b": 50}, {"a": 1.0, "b": 0.0}, 2048)
    ```
    """
    names = list(vocab_sizes)
    sizes = np.array([vocab_sizes[n] for n in names], dtype="float64")
    w = np.array([float(weights.get(n, 0.0)) for n in names], dtype="float32")
    signal = [i for i in range(len(names)) if w[i] > 0]
    w_pairs = np.sqrt(w[:, None] * w[None, :]) / max(len(signal), 1)

    def make_batch(step):
        u = tf.random.stateless_uniform(
            (batch_size, len(names)), seed=tf.stack([seed, step]), dtype=tf.float64
        )
        ids = tf.floor(tf.pow(tf.constant(sizes), u)) - 1.0
        ids = tf.cast(tf.clip_by_value(ids, 0.0, sizes - 1.0), tf.int64)
        salt = tf.range(len(names), dtype=tf.int64)
        effect = _hash_unit(ids * 1_000_003 + salt * 7919 + seed)
        logit = tf.reduce_sum(effect * w, axis=1) - 1.0
        if interactions and len(signal) > 1:
            latent = _hash_unit(ids * 999_983 + salt * 104_729 + seed + 17)
            for a, i in enumerate(signal):
                for j in signal[a + 1 :]:
                    logit += 4.0 * w_pairs[i, j] * latent[:, i] * latent[:, j]
        noise = tf.random.stateless_uniform(
            (batch_size,), seed=tf.stack([seed + 1, step])
        )
        labels = tf.cast(noise < tf.sigmoid(logit), tf.float32)
        features = {n: tf.cast(ids[:, i], tf.int32) for i, n in enumerate(names)}
        return features, labels

    return tf.data.Dataset.counter().map(
        make_batch, num_parallel_calls=tf.data.AUTOTUNE
    ).prefetch(2)


def _hash_unit(x):
    """Deterministic pseudo-random value in [-1, 1] per int64 input."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 33))
    x = x * 0x62A9D9ED799705F5 % (2**61 - 1)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 29))
    return tf.cast(x % 20001, tf.float32) / 10000.0 - 1.0
