"""Step 3, train: fit the TextCNN with a tf.data input, dev evaluation, checkpoints and resume.

Outputs (in --out): model.keras (the best weights on dev), history.json (training and dev
curves), checkpoints/ (every --checkpoint-every steps and each epoch; --resume continues from
the latest; SIGTERM saves one and stops, exit 143), best.weights.h5, tensorboard/{train,dev},
and the textcnn.json manifest.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import artifacts, distribute
from .config import TrainConfig
from .errors import Stopped, TextcnnError
from .features import Vocabulary, check_same_preprocessing, load_split

# Settings that change the model or its input; a checkpoint only resumes when they match.
ARCHITECTURE = ("variant", "seq_len", "filter_sizes", "num_filters", "batch_size", "precision", "seed",
                "lr_schedule", "warmup_steps", "distribute")


def run(cfg: TrainConfig) -> dict:
    """Train on cfg.data with cfg.vocab into cfg.out; return the training summary."""
    data_meta = artifacts.read_manifest(cfg.data, "clean", "--data")
    vocab = Vocabulary.load(cfg.vocab)
    check_same_preprocessing(data_meta, vocab, cfg.data)
    _check_config(cfg, vocab)
    me = distribute.role(cfg.distribute)
    if me.chief:
        out = artifacts.prepare_out(cfg.out)
        _check_resume(cfg, out / "checkpoints")
    else:  # another worker of a multi-worker run: its copies of the outputs go away at the end
        out = Path(tempfile.mkdtemp(prefix=f"textcnn-{me.task}-"))

    import keras
    import tensorflow as tf

    strategy = distribute.make_strategy(tf, cfg.distribute)
    configure_runtime(tf, keras, cfg.seed)
    previous_policy = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(cfg.precision)
    try:
        with _StopSignal() as stop:
            return _fit(cfg, vocab, out, keras, tf, stop, strategy, me.chief)
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)
        if not me.chief:
            shutil.rmtree(out, ignore_errors=True)


class _StopSignal:
    """Turns SIGTERM (what Kubernetes sends a pod before killing it) into a request that the
    training loop honours after the current step: save a checkpoint, then stop with Stopped.
    Only the main thread can take signals; elsewhere (a notebook's worker thread) it does nothing."""

    def __init__(self):
        self.signum: int | None = None
        self._previous = None

    def __enter__(self) -> "_StopSignal":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._request)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _request(self, signum, frame) -> None:
        self.signum = signum


def _fit(cfg: TrainConfig, vocab: Vocabulary, out: Path, keras, tf, stop: _StopSignal, strategy=None,
         chief: bool = True) -> dict:
    from .metrics import classification_metrics
    from .model import build_textcnn

    ckpt_dir = out / "checkpoints"
    train, dev = load_split(cfg.data, "train"), load_split(cfg.data, "dev")
    x_train = vocab.token_ids(train["tokens"], cfg.seq_len)
    y_train = vocab.label_ids(train["label"], Path(cfg.data) / "train.parquet")
    x_dev = vocab.token_ids(dev["tokens"], cfg.seq_len)
    y_dev = vocab.label_ids(dev["label"], Path(cfg.data) / "dev.parquet")

    # Distributed: whole global batches only, so every replica gets the same number of examples.
    steps_per_epoch = len(x_train) // cfg.batch_size if strategy else math.ceil(len(x_train) / cfg.batch_size)
    if steps_per_epoch == 0:
        raise TextcnnError(f"--batch-size {cfg.batch_size} is more than the {len(x_train)} training examples",
                           "lower --batch-size")
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = build_textcnn(
            vocab_size=len(vocab.tokens), num_classes=len(vocab.labels), seq_len=cfg.seq_len,
            embedding_dim=vocab.manifest["embedding_dim"], filter_sizes=cfg.filter_sizes,
            num_filters=cfg.num_filters, dropout=cfg.dropout, l2=cfg.l2, max_norm=cfg.max_norm,
            variant=cfg.variant, embeddings=None if cfg.variant == "rand" else vocab.embeddings())
        optimizer = make_optimizer(keras, model, cfg.lr, cfg.precision, schedule=cfg.lr_schedule,
                                   total_steps=cfg.epochs * steps_per_epoch, warmup_steps=cfg.warmup_steps)
        # Progress lives in the checkpoint with the weights, so a resumed run picks it all up.
        step = tf.Variable(0, dtype=tf.int64, name="step")
        best_accuracy = tf.Variable(-1.0, dtype=tf.float64, name="best_accuracy")
        stale_epochs = tf.Variable(0, dtype=tf.int64, name="stale_epochs")
    # Dropout's random state is not tracked with the model's weights; keep it explicitly so a
    # resumed run draws the same masks as an uninterrupted one.
    random_state = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step, random_state=random_state,
                                     best_accuracy=best_accuracy, stale_epochs=stale_epochs)
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, max_to_keep=cfg.keep_checkpoints)
    history = {"train": [], "dev": [], "epochs": []}
    # Every worker resumes from the chief's checkpoints (other workers write theirs elsewhere).
    latest = tf.train.latest_checkpoint(str(Path(cfg.out) / "checkpoints")) if cfg.resume else None
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        history = _history_until(Path(cfg.out) / "history.json", int(step.numpy()))
        if not cfg.quiet and chief:
            print(f"resumed from step {int(step.numpy())} ({latest})")
    artifacts.write_json(ckpt_dir / "config.json", asdict(cfg))

    train_step = make_train_step(tf, keras, model, optimizer, xla=cfg.xla, strategy=strategy)
    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def dev_metrics() -> dict:
        probs = np.concatenate([predict(x_dev[i:i + cfg.eval_batch_size]).numpy()
                                for i in range(0, len(x_dev), cfg.eval_batch_size)])
        m = classification_metrics(y_dev, probs, len(vocab.labels))
        return {"step": int(step.numpy()), **m}

    train_x, train_y = tf.constant(x_train), tf.constant(y_train)
    writers = {name: tf.summary.create_file_writer(str(out / "tensorboard" / name)) for name in ("train", "dev")}
    first_epoch, skip = divmod(int(step.numpy()), steps_per_epoch)
    verbose = 0 if cfg.quiet or not chief else (1 if _interactive() else 2)
    started, trained_examples = time.perf_counter(), 0
    stopped_early = False

    def evaluate_dev(epoch: int) -> dict:
        m = dev_metrics()
        m["epoch"] = epoch
        history["dev"].append(m)
        with writers["dev"].as_default(step=m["step"]):
            for k in ("loss", "accuracy", "macro_f1"):
                tf.summary.scalar(k, m[k])
        if m["accuracy"] > best_accuracy.numpy():
            best_accuracy.assign(m["accuracy"])
            stale_epochs.assign(-1)  # the epoch end adds one back: 0 when this epoch improved
            with artifacts.atomic_path(out / "best.weights.h5") as tmp:
                model.save_weights(str(tmp))
            artifacts.write_json(out / "best.json", m)
        return m

    def save_checkpoint() -> None:
        # History first: a kill between the two leaves a history ahead of the last checkpoint,
        # which a resume cuts back to that checkpoint's step; the other order would lose steps.
        artifacts.write_json(out / "history.json", history)
        manager.save(checkpoint_number=step)

    for epoch in range(first_epoch, cfg.epochs):
        if cfg.early_stop_patience and stale_epochs.numpy() >= cfg.early_stop_patience:
            stopped_early = True
            if verbose:
                print(f"early stop: no better dev accuracy for {cfg.early_stop_patience} epochs")
            break
        bar = keras.utils.Progbar(steps_per_epoch, verbose=verbose, unit_name="step")
        if verbose:
            print(f"Epoch {epoch + 1}/{cfg.epochs}")
        seen = correct_sum = 0
        loss_sum = 0.0
        order = _epoch_order(cfg, len(x_train), epoch, skip)
        dataset = distribute.epoch_dataset(tf, strategy, train_x, train_y, order, cfg.batch_size) if strategy \
            else _epoch_dataset(tf, train_x, train_y, order, cfg.batch_size)
        for x, y in dataset:
            with_grads = (int(step.numpy()) + 1) % cfg.log_every == 0
            loss, correct, grads = train_step(x, y)
            step.assign_add(1)
            n = cfg.batch_size if strategy else int(x.shape[0])
            seen, trained_examples = seen + n, trained_examples + n
            loss_sum += float(loss) * n
            correct_sum += int(correct)
            s = int(step.numpy())
            if with_grads:
                record = {"step": s, "epoch": epoch, "loss": float(loss), "accuracy": int(correct) / n,
                          "learning_rate": float(optimizer.learning_rate.numpy())}
                history["train"].append(record)
                _write_train_summaries(tf, writers["train"], record, model.trainable_variables, grads)
            values = [("loss", loss_sum / seen), ("accuracy", correct_sum / seen)]
            if s % cfg.eval_every == 0:
                m = evaluate_dev(epoch)
                values += [("dev_accuracy", m["accuracy"])]
            if s % cfg.checkpoint_every == 0 or stop.signum:
                save_checkpoint()
            if stop.signum:
                for writer in writers.values():
                    writer.flush()
                raise Stopped(stop.signum, f"stopped by {signal.Signals(stop.signum).name} at step {s}, "
                              f"checkpoint saved in {ckpt_dir}", "rerun the same command with --resume to continue")
            bar.update(s - epoch * steps_per_epoch, values=values)
        skip = 0
        m = history["dev"][-1] if history["dev"] and history["dev"][-1]["step"] == int(step.numpy()) \
            else evaluate_dev(epoch)
        stale_epochs.assign_add(1)
        history["epochs"].append({"epoch": epoch, "step": int(step.numpy()),
                                  "loss": loss_sum / max(seen, 1), "accuracy": correct_sum / max(seen, 1),
                                  "dev_loss": m["loss"], "dev_accuracy": m["accuracy"], "dev_macro_f1": m["macro_f1"]})
        if verbose:
            print(f"  dev: loss {m['loss']:.4f}, accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}"
                  f" (best accuracy {best_accuracy.numpy():.4f})")
        save_checkpoint()
    elapsed = time.perf_counter() - started

    if (out / "best.weights.h5").exists():
        model.load_weights(str(out / "best.weights.h5"))
    with artifacts.atomic_path(out / "model.keras") as tmp:
        model.save(str(tmp))
    best = artifacts.read_json(out / "best.json")
    summary = {
        "steps": int(step.numpy()),
        "epochs": len(history["epochs"]),
        "stopped_early": stopped_early,
        "best_dev": best,
        "train_seconds": round(elapsed, 2),
        "examples_per_second": round(trained_examples / elapsed, 1) if trained_examples else 0.0,
    }
    history["summary"] = summary
    artifacts.write_json(out / "history.json", history)
    artifacts.write_manifest(
        out, "train", config=asdict(cfg), preprocessing=vocab.preprocessing, labels=vocab.labels,
        vocab_size=len(vocab.tokens), seq_len=cfg.seq_len, summary=summary)
    return summary


def configure_runtime(tf, keras, seed: int) -> None:
    """Seed everything; on CPU also make kernels deterministic: same seed, same weights."""
    keras.utils.set_random_seed(seed)
    if not tf.config.list_physical_devices("GPU"):
        tf.config.experimental.enable_op_determinism()


def make_optimizer(keras, model, lr: float, precision: str, *, schedule: str = "constant", total_steps: int = 0,
                   warmup_steps: int = 0):
    """Adam, with loss scaling under float16 (bfloat16 has float32's range and needs none)."""
    from .schedule import WarmupDecay

    rate = lr if schedule == "constant" and not warmup_steps else WarmupDecay(lr, total_steps, warmup_steps, schedule)
    optimizer = keras.optimizers.Adam(rate)
    if precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return optimizer


def make_train_step(tf, keras, model, optimizer, *, xla: bool, strategy=None):
    """One compiled optimisation step: (token ids, labels) -> (loss, correct predictions, gradients).

    Under a tf.distribute strategy each replica's loss is its examples' share of the global mean
    and the optimizer all-reduces the gradients; the step then returns no gradients (per-replica
    gradients are not summarised). The benchmark times this same function."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss = tf.nn.compute_average_loss(loss_fn(y, probs))  # the batch mean without a strategy
            total = loss + tf.nn.scale_regularization_loss(tf.add_n(model.losses)) if model.losses else loss
            scaled = optimizer.scale_loss(total)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probs, -1, output_type=tf.int32), y), tf.int32))
        return loss, correct, grads

    def distributed_step(x, y):
        loss, correct, _ = strategy.run(replica_step, args=(x, y))
        total = tf.distribute.ReduceOp.SUM
        return (strategy.reduce(total, loss, axis=None), strategy.reduce(total, correct, axis=None),
                [None] * len(model.trainable_variables))

    return tf.function(distributed_step if strategy else replica_step, jit_compile=xla, reduce_retracing=True)


def _check_config(cfg: TrainConfig, vocab: Vocabulary) -> None:
    if cfg.seq_len < max(cfg.filter_sizes):
        raise TextcnnError(f"--seq-len {cfg.seq_len} is shorter than the widest filter ({max(cfg.filter_sizes)})",
                           f"raise --seq-len to at least {max(cfg.filter_sizes)} or use narrower --filter-sizes")
    for name in ("epochs", "batch_size", "num_filters", "eval_every", "checkpoint_every", "keep_checkpoints",
                 "log_every", "eval_batch_size"):
        if getattr(cfg, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise TextcnnError(f"{flag} must be at least 1, not {getattr(cfg, name)}", f"pass a positive {flag}")
    if min(cfg.filter_sizes) < 1:
        raise TextcnnError("--filter-sizes must be positive", "e.g. --filter-sizes 2,3,4,5")
    if not 0.0 <= cfg.dropout < 1.0:
        raise TextcnnError(f"--dropout must be in [0, 1), not {cfg.dropout}", "e.g. --dropout 0.5")
    if cfg.lr <= 0 or cfg.l2 < 0 or cfg.max_norm < 0 or cfg.warmup_steps < 0:
        raise TextcnnError("--lr must be positive, --l2, --max-norm and --warmup-steps not negative", "e.g. --lr 1e-3")
    if cfg.variant in ("static", "multichannel") and vocab.manifest["embeddings"] == "random":
        raise TextcnnError(f"--variant {cfg.variant} keeps pretrained vectors, but {vocab.folder} has random ones",
                           "build the vocab with --pretrained (or --train-word2vec), or use --variant rand/non-static")


def _check_resume(cfg: TrainConfig, ckpt_dir: Path) -> None:
    has_checkpoints = (ckpt_dir / "checkpoint").exists()
    if has_checkpoints and not cfg.resume:
        raise TextcnnError("holds checkpoints of an earlier run",
                           "pass --resume to continue it, or use an empty --out", file=ckpt_dir.parent)
    if has_checkpoints and (ckpt_dir / "config.json").exists():
        before = artifacts.read_json(ckpt_dir / "config.json")
        for name in ARCHITECTURE:
            now = getattr(cfg, name)
            was = before.get(name, getattr(TrainConfig, name))  # settings newer than the checkpoint: default
            was = tuple(was) if isinstance(now, tuple) else was
            if was != now:
                flag = "--" + name.replace("_", "-")
                raise TextcnnError(f"the checkpoints were written with {flag} {was}, not {now}",
                                   f"resume with {flag} {was}, or use an empty --out", file=ckpt_dir)


def _history_until(path: Path, step: int) -> dict:
    """The history saved with the checkpoint, without entries past its step."""
    if not path.exists():
        return {"train": [], "dev": [], "epochs": []}
    h = artifacts.read_json(path)
    return {k: [r for r in h.get(k, []) if r["step"] <= step] for k in ("train", "dev", "epochs")}


def _epoch_order(cfg: TrainConfig, examples: int, epoch: int, skip_batches: int) -> np.ndarray:
    """The epoch's example order, fixed by (seed, epoch), so a resumed run sees the same batches."""
    return np.random.default_rng([cfg.seed, epoch]).permutation(examples)[skip_batches * cfg.batch_size:]


def _epoch_dataset(tf, xs, ys, order: np.ndarray, batch_size: int):
    return (tf.data.Dataset.from_tensor_slices(order)
            .batch(batch_size)
            .map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def _write_train_summaries(tf, writer, record: dict, variables, grads) -> None:
    """Scalars plus, as the original script had, gradient histograms and sparsity."""
    with writer.as_default(step=record["step"]):
        for k in ("loss", "accuracy", "learning_rate"):
            tf.summary.scalar(k, record[k])
        for var, grad in zip(variables, grads):
            if grad is None:
                continue
            grad = tf.convert_to_tensor(grad)
            name = var.path.replace("/", "_")
            tf.summary.histogram(f"gradients/{name}", grad)
            tf.summary.scalar(f"gradient_sparsity/{name}", tf.math.zero_fraction(grad))


def _interactive() -> bool:
    import sys
    return sys.stdout.isatty()
