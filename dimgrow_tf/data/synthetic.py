"""Synthetic CTR data with planted field importance."""

import numpy as np

from dimgrow_tf.field_config import FieldConfig


def make_synthetic_ctr(
    num_rows=20000,
    signal_fields=3,
    noise_fields=3,
    vocab_size=200,
    rank=4,
    seed=0,
):
    """Generates a CTR table where some fields carry signal and some noise.

    Ids follow a Zipf-like law. Every signal field `f` has a latent vector
    `u_f[id]` of size `rank` and a bias `b_f[id]`; the click logit is
    `sum_f b_f[id_f] + sum_{f<g} <u_f[id_f], u_g[id_g]>` over signal fields,
    so signal fields need several dims and their interactions matter. Noise
    fields are drawn the same way but never enter the logit: a dimension
    search must give them no more than 1 dim (or drop them).

    Args:
        num_rows: int. Rows. Defaults to `20000`.
        signal_fields: int. Fields named `signal_0..`. Defaults to `3`.
        noise_fields: int. Fields named `noise_0..`. Defaults to `3`.
        vocab_size: int. Ids per field. Defaults to `200`.
        rank: int. Latent size of the planted interactions. Defaults to `4`.
        seed: int. Defaults to `0`.

    Returns:
        `(features, labels, fields)`: a dict `{name: int32 ids}`, float32
        labels in {0, 1}, and the list of FieldConfig (width 1).

    Example:

    ```python
    x, y, fields = make_synthetic_ctr(num_rows=5000, seed=1)
    ```
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, vocab_size + 1) ** 0.8
    weights /= weights.sum()
    names = [f"signal_{i}" for i in range(signal_fields)]
    names += [f"noise_{i}" for i in range(noise_fields)]
    features = {
        n: rng.choice(vocab_size, size=num_rows, p=weights).astype("int32")
        for n in names
    }
    logit = np.full(num_rows, -0.5)
    latents = {}
    for n in names[:signal_fields]:
        bias = rng.normal(0.0, 0.7, vocab_size)
        latents[n] = rng.normal(0.0, 1.0 / np.sqrt(rank), (vocab_size, rank)) * 1.5
        logit += bias[features[n]]
    signal = names[:signal_fields]
    for i, a in enumerate(signal):
        for b in signal[i + 1 :]:
            logit += np.sum(latents[a][features[a]] * latents[b][features[b]], axis=1)
    labels = (rng.random(num_rows) < 1.0 / (1.0 + np.exp(-logit))).astype("float32")
    fields = [FieldConfig(n, vocab_size) for n in names]
    return features, labels, fields


def split_rows(features, labels, fractions=(0.8, 0.1, 0.1), seed=0):
    """Shuffles and splits `(features, labels)` into train/valid/test."""
    n = len(labels)
    order = np.random.default_rng(seed).permutation(n)
    a = int(fractions[0] * n)
    b = a + int(fractions[1] * n)
    parts = []
    for idx in (order[:a], order[a:b], order[b:]):
        parts.append(({k: v[idx] for k, v in features.items()}, labels[idx]))
    return parts
