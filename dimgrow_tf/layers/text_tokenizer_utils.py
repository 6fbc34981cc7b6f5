"""Helpers of TextTokenizer: the optional keras-hub import and the id layout."""

import sys

import tensorflow as tf

from dimgrow_tf.field_config import PAD_ID

# The loader's id layout (`dimgrow_tf.data.vocabulary`): 0 = OOV, 1 = missing.
OOV_TOKEN = "[UNK]"
MISSING_TOKEN = "[MISSING]"
RESERVED_TOKENS = (OOV_TOKEN, MISSING_TOKEN)
OOV_ID, MISSING_ID = 0, 1
# Byte-level ids: byte b -> b + 2, so the layout's 0 and 1 stay free.
BYTE_OFFSET = 2
BYTE_VOCAB_SIZE = 256 + BYTE_OFFSET


def require_keras_hub(what):
    """Imports `keras_hub`, or raises an ImportError naming the `text` extra."""
    try:
        import keras_hub
    except ImportError as err:
        note = ""
        if sys.version_info < (3, 11):
            note = (" keras-hub 0.32 needs Keras >= 3.15 (Python >= 3.11); text "
                    "fields are not available in this environment.")
        raise ImportError(
            f"{what} needs keras-hub: `pip install \"dimgrow-tf[text]\"` (or "
            "`pip install -c requirements/constraints-py3.11.txt keras-hub`)." + note
        ) from err
    return keras_hub


def check_vocabulary(vocabulary):
    """Returns the WordPiece vocabulary as a list, or raises a ValueError."""
    vocabulary = list(vocabulary)
    if tuple(vocabulary[:2]) != RESERVED_TOKENS:
        raise ValueError(
            f"A WordPiece vocabulary must start with {list(RESERVED_TOKENS)} (ids 0 = "
            f"OOV, 1 = missing, as the loader's layout). Received: {vocabulary[:3]}... "
            "Build it with `TextTokenizer.fit`."
        )
    if len(set(vocabulary)) != len(vocabulary) or not all(
            isinstance(t, str) and t for t in vocabulary):
        raise ValueError("The vocabulary must hold distinct non-empty strings.")
    return vocabulary


def padded_token_ids(lists, max_len=None):
    """Ragged token ids -> `(batch, length >= 1)` int32 padded with `PAD_ID`;
    a row without tokens (empty or missing text) becomes `[MISSING_ID]`."""
    lists = tf.cast(lists, tf.int32)
    if max_len is not None:
        lists = lists[:, :max_len]
    dense = lists.to_tensor(default_value=PAD_ID)
    dense = tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]],
                   constant_values=PAD_ID)
    empty = tf.equal(lists.row_lengths(), 0)
    first = tf.where(empty, tf.constant(MISSING_ID, tf.int32), dense[:, 0])
    return tf.concat([first[:, None], dense[:, 1:]], axis=1)
