"""KFP component: textcnn clean (read, normalise, tokenise, split; reject bad lines)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from textcnn_components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def clean(
    train: Input[Dataset],
    data: Output[Dataset],
    summary: Output[Metrics],
    dev: Input[Dataset] = None,
    test: Input[Dataset] = None,
    stopwords: Input[Dataset] = None,
    user_dict: Input[Dataset] = None,
    format: str = "tsv",
    text_col: str = "",
    label_col: str = "",
    tokenizer: str = "char",
    dev_ratio: float = 0.2,
    seed: int = 42,
    lowercase: bool = False,
    dedupe: bool = False,
    max_reject_ratio: float = 0.01,
    max_chars: int = 100000,
    mlflow_experiment: str = "textcnn",
    mlflow_parent_run_id: str = "",
    kfp_run_id: str = "",
    kfp_run_name: str = "",
):
    """Clean labelled text into train/dev/test Parquet splits; see components/clean/README.md."""
    from textcnn import clean as step
    from textcnn.config import CleanConfig
    from textcnn.tracking import PipelineRun

    cfg = CleanConfig(
        train=train.path, dev=dev.path if dev else None, test=test.path if test else None, out=data.path,
        format=format, text_col=text_col or None, label_col=label_col or None, tokenizer=tokenizer,
        stopwords=stopwords.path if stopwords else None, user_dict=user_dict.path if user_dict else None,
        dev_ratio=dev_ratio, seed=seed, lowercase=lowercase, dedupe=dedupe, max_reject_ratio=max_reject_ratio,
        max_chars=max_chars, quiet=True)
    with PipelineRun(mlflow_experiment, mlflow_parent_run_id, kfp_run_id, kfp_run_name).step("clean", cfg) as log:
        report = step.run(cfg)
        for key, value in report["total"].items():
            summary.log_metric(key, value)
        for split, stats in report["splits"].items():
            summary.log_metric(f"{split}_examples", stats["examples"])
        log.log(data.path)
