import json
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import SAMPLE, SMALL_TRAIN
from textcnn import clean, train, vocab
from textcnn.config import CleanConfig, TrainConfig, VocabConfig
from textcnn.errors import TextcnnError

TINY = dict(SMALL_TRAIN, epochs=2, num_filters=16, eval_every=7, checkpoint_every=4, log_every=5)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("train_inputs")
    clean.run(CleanConfig(train=str(SAMPLE / "train.tsv"), dev=str(SAMPLE / "dev.tsv"), out=str(base / "data"),
                          quiet=True))
    vocab.run(VocabConfig(data=str(base / "data"), out=str(base / "vocab"), min_count=1, embedding_dim=16))
    return base


def fit(inputs, out, **kw):
    cfg = TrainConfig(data=str(inputs / "data"), vocab=str(inputs / "vocab"), out=str(out), **{**TINY, **kw})
    return train.run(cfg)


def weights(out):
    return keras.saving.load_model(Path(out) / "model.keras", safe_mode=True).get_weights()


def test_training_learns_the_sample(sample_run):
    history = json.loads((sample_run["model"] / "history.json").read_text())
    best = history["summary"]["best_dev"]
    assert best["accuracy"] > 0.6  # five balanced classes: chance is 0.2
    dev_steps = [r["step"] for r in history["dev"]]
    assert all(s % 10 == 0 or s in [e["step"] for e in history["epochs"]] for s in dev_steps)
    assert len(history["epochs"]) == 8
    assert history["epochs"][-1]["loss"] < history["epochs"][0]["loss"]
    assert {"loss", "accuracy", "learning_rate"} <= set(history["train"][0])
    for name in ("train", "dev"):
        assert list((sample_run["model"] / "tensorboard" / name).glob("events.out.tfevents.*"))
    assert len(list((sample_run["model"] / "checkpoints").glob("ckpt-*.index"))) == 5


def test_dev_metrics_are_over_the_whole_dev_set(sample_run):
    from textcnn.features import Vocabulary, load_split
    from textcnn.metrics import classification_metrics

    v = Vocabulary.load(sample_run["vocab"])
    dev = load_split(sample_run["data"], "dev")
    model = keras.saving.load_model(sample_run["model"] / "model.keras", safe_mode=True)
    probs = model.predict(v.token_ids(dev["tokens"], 32), verbose=0)
    best = json.loads((sample_run["model"] / "best.json").read_text())
    assert classification_metrics(v.label_ids(dev["label"], "dev"), probs, 5)["accuracy"] == \
        pytest.approx(best["accuracy"])


def test_same_seed_same_weights(inputs, tmp_path):
    fit(inputs, tmp_path / "a", epochs=1)
    fit(inputs, tmp_path / "b", epochs=1)
    fit(inputs, tmp_path / "c", epochs=1, seed=43)
    a, b, c = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def crash_at(monkeypatch, step: int, *args, **kw) -> None:
    """fit(*args, **kw), crashed (KeyboardInterrupt) when it logs `step`."""
    real = train._write_train_summaries

    def crashing(tf, writer, record, *rest):
        if record["step"] == step:
            raise KeyboardInterrupt("simulated crash")
        real(tf, writer, record, *rest)

    with monkeypatch.context() as patch:
        patch.setattr(train, "_write_train_summaries", crashing)
        with pytest.raises(KeyboardInterrupt):
            fit(*args, **kw)


def test_resume_after_a_crash_matches_an_uninterrupted_run(inputs, tmp_path, monkeypatch):
    whole = fit(inputs, tmp_path / "whole", early_stop_patience=0)
    crash_at(monkeypatch, 10, inputs, tmp_path / "crashed", early_stop_patience=0)
    assert not (tmp_path / "crashed" / "textcnn.json").exists()
    with pytest.raises(TextcnnError, match="holds checkpoints of an earlier run.*--resume"):
        fit(inputs, tmp_path / "crashed", early_stop_patience=0)
    summary = fit(inputs, tmp_path / "crashed", early_stop_patience=0, resume=True)
    assert summary["steps"] == whole["steps"] == 2 * 19  # 300 lines in batches of 16
    for x, y in zip(weights(tmp_path / "whole"), weights(tmp_path / "crashed")):
        np.testing.assert_array_equal(x, y)
    history = json.loads((tmp_path / "crashed" / "history.json").read_text())
    steps = [r["step"] for r in history["train"]]
    assert steps == sorted(set(steps))  # no step logged twice


@pytest.mark.parametrize("where", ["history", "checkpoint"])
def test_a_kill_while_checkpointing_loses_no_step(inputs, tmp_path, monkeypatch, where):
    """Killed between writing history.json and the checkpoint (either one third time): the resumed
    history still holds every step exactly once."""
    import tensorflow as tf

    from textcnn import artifacts

    history_writes = []
    real_json, real_save = artifacts.write_json, tf.train.CheckpointManager.save

    def write_json(path, *a, **kw):
        if str(path).endswith("history.json"):
            if where == "history" and len(history_writes) == 2:
                raise KeyboardInterrupt("killed")
            history_writes.append(path)
        return real_json(path, *a, **kw)

    def save(manager, *a, **kw):
        if where == "checkpoint" and len(history_writes) == 3:
            raise KeyboardInterrupt("killed")
        return real_save(manager, *a, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(artifacts, "write_json", write_json)
        patch.setattr(tf.train.CheckpointManager, "save", save)
        with pytest.raises(KeyboardInterrupt):
            fit(inputs, tmp_path / "m", log_every=1, early_stop_patience=0)
    summary = fit(inputs, tmp_path / "m", log_every=1, early_stop_patience=0, resume=True)
    steps = [r["step"] for r in json.loads((tmp_path / "m" / "history.json").read_text())["train"]]
    assert steps == list(range(1, summary["steps"] + 1))


def test_resume_refuses_changed_architecture(inputs, tmp_path):
    fit(inputs, tmp_path / "m", epochs=1)
    with pytest.raises(TextcnnError, match="written with --seq-len 32, not 40"):
        fit(inputs, tmp_path / "m", epochs=2, seq_len=40, resume=True)


def test_learning_rate_warms_up_then_decays_across_a_resume(inputs, tmp_path, monkeypatch):
    schedule = dict(epochs=2, log_every=1, lr=0.01, lr_schedule="linear", warmup_steps=5)
    crash_at(monkeypatch, 21, inputs, tmp_path / "m", **schedule)
    summary = fit(inputs, tmp_path / "m", **schedule, resume=True)
    rate = [r["learning_rate"] for r in json.loads((tmp_path / "m" / "history.json").read_text())["train"]]
    assert len(rate) == summary["steps"] == 38
    assert rate[4] == pytest.approx(0.01) and rate[0] < rate[1] < rate[4]  # warm-up over the first 5 steps
    assert all(a > b for a, b in zip(rate[5:], rate[6:]))  # then down, also past the resume (checkpoint at step 20)
    assert rate[-1] < 0.0005
    with pytest.raises(TextcnnError, match="written with --lr-schedule linear, not cosine"):
        fit(inputs, tmp_path / "m", epochs=3, lr_schedule="cosine", warmup_steps=5, resume=True)


def test_early_stopping_keeps_the_best_weights(inputs, tmp_path):
    summary = fit(inputs, tmp_path / "m", epochs=6, lr=1e-9, early_stop_patience=1)
    assert summary["stopped_early"] and summary["epochs"] == 2
    assert summary["best_dev"]["epoch"] == 0


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_and_saves(inputs, tmp_path, precision):
    summary = fit(inputs, tmp_path / "m", epochs=1, precision=precision, xla=True)
    model = keras.saving.load_model(tmp_path / "m" / "model.keras", safe_mode=True)
    assert model.get_layer("conv_2").dtype_policy.name == precision
    assert summary["steps"] == 19
    assert keras.mixed_precision.dtype_policy().name == "float32"  # the process-wide policy is restored


@pytest.mark.parametrize("kw, match", [
    ({"seq_len": 3}, "--seq-len 3 is shorter than the widest filter"),
    ({"variant": "static"}, "--variant static keeps pretrained vectors"),
    ({"dropout": 1.0}, "--dropout must be in"),
    ({"batch_size": 0}, "--batch-size must be at least 1"),
])
def test_bad_training_settings(inputs, tmp_path, kw, match):
    with pytest.raises(TextcnnError, match=match):
        fit(inputs, tmp_path / "m", **kw)


def test_data_and_vocab_must_share_preprocessing(inputs, tmp_path):
    clean.run(CleanConfig(train=str(SAMPLE / "train.tsv"), out=str(tmp_path / "words"), tokenizer="jieba",
                          quiet=True))
    with pytest.raises(TextcnnError, match="tokenised with .*jieba.*but the vocabulary with .*char"):
        train.run(TrainConfig(data=str(tmp_path / "words"), vocab=str(inputs / "vocab"), out=str(tmp_path / "m")))


def test_tensorboard_logs_hold_curves_and_gradient_summaries(sample_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def tags(name):
        acc = EventAccumulator(str(sample_run["model"] / "tensorboard" / name), size_guidance={"tensors": 0})
        acc.Reload()
        return acc.Tags()["tensors"]

    train_tags = tags("train")
    assert {"loss", "accuracy", "learning_rate"} <= set(train_tags)
    assert any(t.startswith("gradients/") for t in train_tags)
    assert any(t.startswith("gradient_sparsity/") for t in train_tags)
    assert {"loss", "accuracy", "macro_f1"} <= set(tags("dev"))
