"""The folded serving model computes what the Keras TextCNN computes, for every variant."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from textcnn import folding
from textcnn.model import VARIANTS, build_textcnn


@pytest.mark.parametrize("variant", VARIANTS)
def test_folded_model_equals_the_keras_model(variant):
    rng = np.random.default_rng(0)
    vocab, dim = 300, 24
    model = build_textcnn(vocab_size=vocab, num_classes=7, seq_len=20, embedding_dim=dim, filter_sizes=(1, 3, 5),
                          num_filters=16, variant=variant, embeddings=rng.normal(size=(vocab, dim)).astype("float32"))
    for v in model.trainable_variables:  # trained-looking weights, not the zero-bias initial ones
        v.assign(rng.normal(scale=0.3, size=v.shape).astype("float32"))
    ids = rng.integers(0, vocab, (64, 20)).astype("int32")
    ids[:5, 10:] = 0  # padded rows too
    folded = folding.build(tf, folding.folded_weights(model))
    np.testing.assert_allclose(folded(tf.constant(ids)).numpy(), model(ids, training=False).numpy(),
                               rtol=1e-4, atol=1e-6)


def test_table_size():
    assert folding.table_bytes(5000, (2, 3, 4), 256) == 4 * 5000 * 9 * 256
