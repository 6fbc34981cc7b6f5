"""Helpers shared by the config dataclasses."""

import dataclasses


def dataclass_from_config(cls, config):
    """`cls(**config)` for a config dataclass; unknown keys raise a ValueError
    that lists the valid ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ValueError(
            f"Unknown {cls.__name__} keys {unknown}; valid keys: {sorted(names)}."
        )
    return cls(**config)
