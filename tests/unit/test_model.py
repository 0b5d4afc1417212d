import ast
from pathlib import Path

import keras
import numpy as np
import pytest

from textcnn.model import build_textcnn

ARGS = dict(vocab_size=50, num_classes=4, seq_len=12, embedding_dim=6, filter_sizes=(2, 3), num_filters=5)


def vectors():
    return np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)


@pytest.mark.parametrize("variant", ["rand", "static", "non-static", "multichannel"])
def test_every_variant_gives_probabilities(variant):
    model = build_textcnn(**ARGS, variant=variant, embeddings=vectors())
    probs = np.asarray(model(np.random.default_rng(1).integers(0, 50, (3, 12)).astype("int32")))
    assert probs.shape == (3, 4)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_embedding_variants_follow_kim():
    emb = vectors()
    static = build_textcnn(**ARGS, variant="static", embeddings=emb)
    assert not static.get_layer("embedding").trainable
    np.testing.assert_array_equal(static.get_layer("embedding").get_weights()[0], emb)
    nonstatic = build_textcnn(**ARGS, variant="non-static", embeddings=emb)
    assert nonstatic.get_layer("embedding").trainable
    multi = build_textcnn(**ARGS, variant="multichannel", embeddings=emb)
    assert not multi.get_layer("embedding_static").trainable and multi.get_layer("embedding").trainable
    # One set of filters serves both channels: same conv parameters as one channel.
    assert multi.get_layer("conv_2").count_params() == nonstatic.get_layer("conv_2").count_params()
    rand = build_textcnn(**ARGS, variant="rand", embeddings=emb)
    assert not np.array_equal(rand.get_layer("embedding").get_weights()[0], emb)


def test_l2_and_max_norm_on_the_output_layer():
    model = build_textcnn(**ARGS, l2=0.5, max_norm=0.01, embeddings=vectors())
    assert len(model.losses) == 1 and float(model.losses[0]) > 0
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    model.fit(np.random.default_rng(2).integers(0, 50, (8, 12)).astype("int32"), np.arange(8) % 4, verbose=0)
    kernel = model.get_layer("logits").get_weights()[0]
    assert np.linalg.norm(kernel, axis=0).max() <= 0.01 + 1e-6


def test_model_code_uses_only_keras():
    tree = ast.parse(Path(__file__).parents[2].joinpath("textcnn", "model.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "keras", "numpy"}
