"""KFP component: textcnn train (the TextCNN, with dev evaluation, checkpoints and resume)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from textcnn_components.images import GPU_IMAGE


@dsl.component(base_image=GPU_IMAGE, install_kfp_package=False)
def train(
    data: Input[Dataset],
    vocab: Input[Dataset],
    model: Output[Model],
    summary: Output[Metrics],
    variant: str = "non-static",
    epochs: int = 10,
    batch_size: int = 16,
    seq_len: int = 100,
    filter_sizes: str = "2,3,4,5",
    num_filters: int = 300,
    dropout: float = 0.5,
    lr: float = 0.001,
    lr_schedule: str = "constant",
    warmup_steps: int = 0,
    l2: float = 0.0,
    max_norm: float = 0.0,
    eval_every: int = 1000,
    checkpoint_every: int = 1000,
    keep_checkpoints: int = 5,
    early_stop_patience: int = 3,
    precision: str = "float32",
    xla: bool = False,
    distribute: str = "none",
    seed: int = 42,
    log_every: int = 100,
    mlflow_experiment: str = "textcnn",
    mlflow_parent_run_id: str = "",
    kfp_run_id: str = "",
    kfp_run_name: str = "",
    checkpoint_root: str = "",
):
    """Train the model; see components/train/README.md.

    It always resumes from checkpoints it finds: a retried task continues where the failed attempt
    stopped. They are kept in the output folder, or, where the pipeline has a workspace
    (checkpoint_root), there, under the run's id, which outlives a pod; the finished folder is
    then copied to the output."""
    import shutil
    from pathlib import Path

    from textcnn import train as step
    from textcnn.config import TrainConfig, parse_value
    from textcnn.tracking import PipelineRun

    work = Path(checkpoint_root, "textcnn-train", kfp_run_id or "run") if checkpoint_root else Path(model.path)
    cfg = TrainConfig(
        data=data.path, vocab=vocab.path, out=str(work), resume=True, variant=variant, epochs=epochs, batch_size=batch_size,
        seq_len=seq_len, filter_sizes=parse_value(tuple, filter_sizes, "filter_sizes"), num_filters=num_filters,
        dropout=dropout, lr=lr, lr_schedule=lr_schedule, warmup_steps=warmup_steps, l2=l2, max_norm=max_norm,
        eval_every=eval_every, checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints, early_stop_patience=early_stop_patience, precision=precision, xla=xla,
        distribute=distribute, seed=seed, log_every=log_every, quiet=False)
    with PipelineRun(mlflow_experiment, mlflow_parent_run_id, kfp_run_id, kfp_run_name).step("train", cfg) as log:
        result = step.run(cfg)
        if work != Path(model.path):
            shutil.copytree(work, model.path, dirs_exist_ok=True)
        summary.log_metric("best_dev_accuracy", result["best_dev"]["accuracy"])
        summary.log_metric("best_dev_macro_f1", result["best_dev"]["macro_f1"])
        for key in ("steps", "epochs", "train_seconds", "examples_per_second"):
            summary.log_metric(key, result[key])
        log.log(model.path)
