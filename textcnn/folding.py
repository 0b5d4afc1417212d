"""Serving without a matrix multiply per request: the embedding folded into the convolutions.

A width-w convolution over embedded tokens is sum_k E[id[t+k]] @ W_k (+ bias): every term
depends on one token only, so the products E @ W_k can be computed once, at export, for every
vocabulary entry. Inference then gathers rows of that table and adds them, which is exact up to
float rounding and removes nearly all of the model's arithmetic. The table has vocab_size x
(sum of widths x filters) floats, so it is only built when that stays small (`fits`).
"""

from __future__ import annotations

import numpy as np

# Above this size (bytes) the folded table costs more memory than the speed is worth.
MAX_TABLE_BYTES = 256 * 2**20


def table_bytes(vocab_size: int, filter_sizes, num_filters: int) -> int:
    return 4 * vocab_size * sum(filter_sizes) * num_filters


def folded_weights(model) -> dict:
    """The numbers the folded model needs, from a trained Keras TextCNN (any variant)."""
    embedding = model.get_layer("embedding").embeddings.numpy().astype(np.float32)
    channels = 1
    if any(layer.name == "embedding_static" for layer in model.layers):
        # multichannel: conv(static) + conv(trained) = conv(static + trained) + one more bias.
        embedding = embedding + model.get_layer("embedding_static").embeddings.numpy().astype(np.float32)
        channels = 2
    widths = sorted(int(layer.name.split("_")[1]) for layer in model.layers if layer.name.startswith("conv_"))
    tables, biases = [], []
    for w in widths:
        conv = model.get_layer(f"conv_{w}")
        kernel, bias = (v.numpy().astype(np.float32) for v in conv.weights)
        tables += [embedding @ kernel[k] for k in range(w)]  # (vocab, filters) per offset
        biases.append(channels * bias)
    dense = model.get_layer("logits")
    kernel, bias = (v.numpy().astype(np.float32) for v in dense.weights)
    return {"widths": widths, "table": np.concatenate(tables, axis=1), "conv_bias": np.concatenate(biases),
            "dense_kernel": kernel, "dense_bias": bias}


def build(tf, weights: dict):
    """A tf.Module whose __call__(token_ids int32 [batch, seq_len]) gives the probabilities."""

    class FoldedTextCNN(tf.Module):
        def __init__(self):
            super().__init__(name="folded_textcnn")
            self.widths = weights["widths"]
            self.filters = weights["conv_bias"].size // len(self.widths)
            self.table = tf.Variable(weights["table"], trainable=False, name="folded_table")
            self.conv_bias = tf.Variable(weights["conv_bias"], trainable=False, name="conv_bias")
            self.dense_kernel = tf.Variable(weights["dense_kernel"], trainable=False, name="dense_kernel")
            self.dense_bias = tf.Variable(weights["dense_bias"], trainable=False, name="dense_bias")

        def __call__(self, token_ids):
            rows = tf.gather(self.table, token_ids)          # (batch, seq_len, sum(w) * filters)
            seq_len, f = tf.shape(token_ids)[1], self.filters
            pooled, block = [], 0
            for w in self.widths:
                n = seq_len - w + 1
                total = rows[:, 0:n, block * f:(block + 1) * f]
                for k in range(1, w):
                    total += rows[:, k:k + n, (block + k) * f:(block + k + 1) * f]
                pooled.append(tf.reduce_max(total, axis=1))
                block += w
            # max over time before bias and ReLU: both are monotonic, so the result is the same.
            features = tf.nn.relu(tf.concat(pooled, axis=-1) + self.conv_bias)
            return tf.nn.softmax(tf.matmul(features, self.dense_kernel) + self.dense_bias)

    return FoldedTextCNN()
