"""Saving and loading a DimGrowEmbedding's state, widths included."""

import json

import numpy as np

from dimgrow_tf.backend_compat import current_shape
from dimgrow_tf.resize.field_resize import FieldResize

SEED_KEY = "seed_state"
SEARCH_KEY = "search_state"


def save_layer_state(layer, store):
    """Writes every field variable under `<field>:<kind>`, the shuffle seed
    state, and (if a search callback is attached) its state as JSON bytes."""
    for name, variables in layer._vars.by_field.items():
        for kind, var in variables.items():
            store[f"{name}:{kind}"] = var
    store[SEED_KEY] = layer.seed_generator.state
    provider = layer.hooks.state_provider
    if provider is not None:
        text = json.dumps(provider())
        store[SEARCH_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def load_layer_state(layer, store):
    """Restores what `save_layer_state` wrote.

    A field saved at another width is resized to the saved width first; the
    layer then calls `layer.hooks.on_resize(remaps)` so the model's
    optimizer and traced functions follow (`DimGrowCallback` registers that
    hook). Without a hook, a width change raises, since the optimizer would
    silently keep the old shapes.
    """
    keys = set(store.keys())
    for field in layer.fields:
        stored = f"{field.name}:embeddings" in keys
        if field.dim == 0 and stored:
            raise ValueError(
                f"Field {field.name!r} is dropped in layer {layer.name!r} but "
                "the saved weights hold it."
            )
        if field.dim > 0 and not stored:
            raise ValueError(
                f"Saved weights of layer {layer.name!r} lack field {field.name!r}."
            )
    saved = {
        f.name: int(np.shape(store[f"{f.name}:embeddings"])[1])
        for f in layer.fields
        if f.dim > 0
    }
    changed = {n: w for n, w in saved.items() if w != layer.dims[n]}
    if changed and layer.hooks.on_resize is None:
        raise ValueError(
            f"Layer {layer.name!r} has widths "
            f"{ {n: layer.dims[n] for n in changed} } but the saved weights have "
            f"{changed}. Load inside `fit` with DimGrowCallback attached, or "
            "rebuild the layer from the saved config (keras.saving.load_model)."
        )
    for name, width in changed.items():
        old = layer.dims[name]
        keep = tuple(range(min(old, width)))
        remaps = layer.resize({name: FieldResize(keep, grow=width - len(keep))})
        layer.hooks.on_resize(remaps)
    for name, variables in layer._vars.by_field.items():
        for kind, var in variables.items():
            value = np.asarray(store[f"{name}:{kind}"])
            shape = current_shape(var)
            if tuple(value.shape) != tuple(shape):
                raise ValueError(
                    f"Field {name!r}: saved {kind} has shape {tuple(value.shape)}, "
                    f"the layer has {tuple(shape)}."
                )
            var.assign(value)
    if SEED_KEY in keys:
        layer.seed_generator.state.assign(np.asarray(store[SEED_KEY]))
    if SEARCH_KEY in keys and layer.hooks.state_consumer is not None:
        text = np.asarray(store[SEARCH_KEY]).tobytes().decode("utf-8")
        layer.hooks.state_consumer(json.loads(text))
