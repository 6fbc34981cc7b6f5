"""Settings of `distributed_fit` beyond its data and epochs."""

import dataclasses
from typing import Any, Dict

from dimgrow_tf.config_utils import dataclass_from_config


@dataclasses.dataclass(frozen=True)
class DistributedFitConfig:
    """How `distributed_fit` checkpoints, verifies and reports.

    Args:
        checkpoint_every: int. Epochs between checkpoints (when a
            `checkpoint_dir` is given); the last epoch is always saved.
            Defaults to `1`.
        keep_checkpoints: int. Checkpoints the chief keeps; older ones are
            deleted after a newer one is complete. Defaults to `2`.
        verify_agreement: bool. With several worker processes: before
            every training step the workers compare their widths (and
            epoch and step) and stop with a `RuntimeError` if any differs,
            broadcast the columns of fields that grew from the first
            replica, and compare variable checksums at each epoch end.
            Defaults to `True`.
        verbose: int. `1` shows Keras's progress bar on the chief (other
            workers never print one). Defaults to `0`.

    Example:

    ```python
    config = dimgrow_tf.DistributedFitConfig(checkpoint_every=2, verbose=1)
    dimgrow_tf.distributed_fit(model, train_ds, valid_ds, epochs=10, config=config)
    ```
    """

    checkpoint_every: int = 1
    keep_checkpoints: int = 2
    verify_agreement: bool = True
    verbose: int = 0

    def __post_init__(self):
        for name in ("checkpoint_every", "keep_checkpoints"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value!r}"
                )
        if not isinstance(self.verify_agreement, bool):
            raise ValueError(
                "`verify_agreement` must be a bool. "
                f"Received: verify_agreement={self.verify_agreement!r}"
            )
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2. Received: {self.verbose!r}")

    def get_config(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "DistributedFitConfig":
        return dataclass_from_config(cls, config)
