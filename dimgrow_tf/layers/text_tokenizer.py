"""Text -> token id lists in the graph, for a multi-valent text field."""

import keras
import numpy as np
import tensorflow as tf

from dimgrow_tf.field_config import FieldConfig
from dimgrow_tf.layers import text_tokenizer_utils as tu


@keras.saving.register_keras_serializable(package="dimgrow_tf")
class TextTokenizer(keras.layers.Layer):
    """Tokenizes strings in the graph into the loader's id layout.

    A text field (e.g. a movie title) is a multi-valent field whose ids are
    its tokens: this layer maps a batch of strings `(batch,)` to padded
    token ids `(batch, length)` (padding `PAD_ID` = -1) for a
    `FieldConfig` with a combiner (`field()`), whose width is then searched
    like any field's. Ids follow the loader's layout: 0 = OOV (a word piece
    outside the vocabulary), 1 = missing (an empty string: the list `[1]`),
    2.. = tokens.

    - With a `vocabulary` (from `TextTokenizer.fit`, computed offline on the
      training texts with keras-hub's `compute_word_piece_vocabulary`):
      `keras_hub.tokenizers.WordPieceTokenizer`. Its graph uses
      tensorflow-text ops, so a model server needs them too.
    - Without one: `keras_hub.tokenizers.ByteTokenizer` (UTF-8 bytes, ids
      byte + 2, vocabulary size 258, lowercased with `tf.strings.lower`):
      core TensorFlow ops only, so any TF Serving binary serves it.

    No preset is downloaded: nothing here needs the network. Use the same
    object for training (`dataset.map`) and serving
    (`export_saved_model(..., tokenizers={field: tokenizer})`): one rule.
    Needs keras-hub (the `text` extra, Keras >= 3.15).

    Args:
        vocabulary: list of str or None. WordPiece vocabulary starting with
            `"[UNK]", "[MISSING]"`; `None` tokenizes bytes. Defaults to
            `None`.
        lowercase: bool. Lowercase before tokenizing. Defaults to `True`.
        max_len: int or None. Keep at most this many tokens per text.
            Defaults to `None` (all).
        **kwargs: base `keras.layers.Layer` arguments.

    Example:

    ```python
    tok = TextTokenizer.fit(train_titles, vocabulary_size=2000)
    title = tok.field("title")                 # FieldConfig, combiner "mean"
    ids = tok(tf.constant(["Toy Story (1995)", ""]))   # (2, L), row 1 = [1]
    ```
    """

    def __init__(self, vocabulary=None, lowercase=True, max_len=None, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        keras_hub = tu.require_keras_hub("TextTokenizer")
        if max_len is not None and (isinstance(max_len, bool) or not isinstance(
                max_len, (int, np.integer)) or max_len < 1):
            raise ValueError(f"`max_len` must be a positive integer or None. "
                             f"Received: max_len={max_len!r}")
        self.vocabulary = None if vocabulary is None else tu.check_vocabulary(vocabulary)
        self.lowercase = bool(lowercase)
        self.max_len = None if max_len is None else int(max_len)
        tokenizers = keras_hub.tokenizers
        if self.vocabulary is None:
            # Lowercased with core `tf.strings.lower` in `_lists`: keras-hub's
            # own lowercasing uses tensorflow-text's CaseFoldUTF8.
            self.tokenizer = tokenizers.ByteTokenizer(lowercase=False)
        else:
            self.tokenizer = tokenizers.WordPieceTokenizer(
                vocabulary=self.vocabulary, lowercase=self.lowercase,
                oov_token=tu.OOV_TOKEN)
        self._graph_lists = tf.function(self._lists)
        self.built = True

    @classmethod
    def fit(cls, texts, vocabulary_size, lowercase=True, max_len=None):
        """A WordPiece `TextTokenizer` with a vocabulary computed offline.

        Args:
            texts: sequence of str (the training texts; empty ones skipped).
            vocabulary_size: int. Size of the vocabulary, the two reserved
                tokens included (`FieldConfig.vocab_size`).
            lowercase: bool. Defaults to `True`.
            max_len: int or None. Defaults to `None`.
        """
        keras_hub = tu.require_keras_hub("TextTokenizer.fit")
        texts = [t for t in (str(t) for t in texts) if t]
        if not texts:
            raise ValueError("`texts` holds no non-empty text to learn a vocabulary from.")
        data = tf.data.Dataset.from_tensor_slices(texts).batch(1024)
        vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
            data, vocabulary_size, lowercase=lowercase,
            reserved_tokens=list(tu.RESERVED_TOKENS))
        return cls(vocabulary, lowercase=lowercase, max_len=max_len)

    @property
    def kind(self):
        """`"wordpiece"` or `"byte"`."""
        return "byte" if self.vocabulary is None else "wordpiece"

    @property
    def vocab_size(self):
        """Rows the text field's table needs."""
        return tu.BYTE_VOCAB_SIZE if self.vocabulary is None else len(self.vocabulary)

    def field(self, name, combiner="mean", dim=1):
        """The `FieldConfig` of a text field tokenized by this layer."""
        return FieldConfig(name, self.vocab_size, dim=dim, combiner=combiner,
                           max_len=None)

    def token_lists(self, strings):
        """Ragged int32 token ids (the layout) of a `(batch,)` string tensor;
        an empty string gives an empty row."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if tf.executing_eagerly():
            # keras-hub returns Python lists for ragged output in eager mode.
            return self._graph_lists(strings)
        return self._lists(strings)

    def _lists(self, strings):
        strings = tf.reshape(strings, [-1])
        if self.vocabulary is None:
            if self.lowercase:
                strings = tf.strings.lower(strings, encoding="utf-8")
            # keras-hub 0.32's ByteTokenizer fails on a batch of only empty
            # texts (it squeezes an empty byte tensor): one extra text, dropped.
            tokens = self.tokenizer(tf.concat([strings, ["."]], axis=0))[:-1]
            return tf.cast(tokens, tf.int32) + tu.BYTE_OFFSET
        return tf.cast(self.tokenizer(strings), tf.int32)

    def call(self, strings):
        return tu.padded_token_ids(self.token_lists(strings), self.max_len)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_len)

    def get_config(self):
        config = super().get_config()
        config.update(vocabulary=self.vocabulary, lowercase=self.lowercase,
                      max_len=self.max_len)
        return config
