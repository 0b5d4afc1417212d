"""The TextCNN of Kim (2014), in Keras 3 (keras and keras.ops only, so it runs on any backend).

token ids -> embedding (rand | static | non-static | multichannel) -> one Conv1D + ReLU +
max-over-time pooling per filter width -> concatenate -> dropout -> dense softmax.
"""

from __future__ import annotations

import keras
import numpy as np

VARIANTS = ("rand", "static", "non-static", "multichannel")


def build_textcnn(*, vocab_size: int, num_classes: int, seq_len: int, embedding_dim: int,
                  filter_sizes=(2, 3, 4, 5), num_filters: int = 300, dropout: float = 0.5,
                  l2: float = 0.0, max_norm: float = 0.0, variant: str = "non-static",
                  embeddings: np.ndarray | None = None) -> keras.Model:
    """Build the model; `embeddings` (vocab_size x embedding_dim) seeds every variant but rand."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    token_ids = keras.Input((seq_len,), dtype="int32", name="token_ids")

    def embedding(name: str, trainable: bool):
        layer = keras.layers.Embedding(vocab_size, embedding_dim, trainable=trainable, name=name)
        out = layer(token_ids)
        if variant != "rand":
            layer.embeddings.assign(embeddings)
        return out

    if variant == "multichannel":
        # Kim: each filter sees a frozen and a trained copy of the vectors; results are summed.
        channels = [embedding("embedding_static", False), embedding("embedding", True)]
    else:
        channels = [embedding("embedding", variant != "static")]

    pooled = []
    for width in filter_sizes:
        conv = keras.layers.Conv1D(num_filters, width, name=f"conv_{width}")
        feature = conv(channels[0])
        for extra in channels[1:]:
            feature = keras.layers.Add(name=f"channels_{width}")([feature, conv(extra)])
        feature = keras.layers.ReLU(name=f"relu_{width}")(feature)
        pooled.append(keras.layers.GlobalMaxPooling1D(name=f"pool_{width}")(feature))
    x = pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name="features")(pooled)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(
        num_classes, name="logits",
        kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
        kernel_constraint=keras.constraints.MaxNorm(max_norm, axis=0) if max_norm else None)(x)
    # Softmax in float32 even under mixed precision, for a stable loss.
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(token_ids, probabilities, name="textcnn")
