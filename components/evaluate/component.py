"""KFP component: textcnn evaluate (metrics, confusion matrix, report and predictions on a split)."""

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from textcnn_components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def evaluate(
    data: Input[Dataset],
    vocab: Input[Dataset],
    model: Input[Model],
    evaluation: Output[Dataset],
    metrics: Output[Metrics],
    confusion_matrix: Output[ClassificationMetrics],
    report: Output[HTML],
    split: str = "test",
    beta: float = 1.0,
    top_mistakes: int = 20,
    min_accuracy: float = 0.0,
    mlflow_experiment: str = "textcnn",
    mlflow_parent_run_id: str = "",
    kfp_run_id: str = "",
    kfp_run_name: str = "",
) -> float:
    """Evaluate the model; returns the accuracy, which the export gate reads. See components/evaluate/README.md."""
    import csv
    import shutil
    from pathlib import Path

    from textcnn import evaluate as step
    from textcnn.config import EvaluateConfig
    from textcnn.tracking import PipelineRun

    cfg = EvaluateConfig(data=data.path, vocab=vocab.path, model=model.path, out=evaluation.path, split=split,
                         beta=beta, top_mistakes=top_mistakes, quiet=True)
    pipeline = PipelineRun(mlflow_experiment, mlflow_parent_run_id, kfp_run_id, kfp_run_name)
    with pipeline.step("evaluate", cfg) as log:
        result = step.run(cfg)
        for key in ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_precision",
                    "weighted_recall", "weighted_f1", "macro_fbeta", "loss"):
            metrics.log_metric(key, result[key])
        with open(Path(evaluation.path) / "confusion_matrix.csv", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        confusion_matrix.log_confusion_matrix(rows[0][1:], [[int(n) for n in row[1:]] for row in rows[1:]])
        shutil.copyfile(Path(evaluation.path) / "report.html", report.path)
        log.log(evaluation.path)
    if result["accuracy"] < min_accuracy:
        pipeline.finish(True)  # the gate stops the pipeline here; export will not run
    return result["accuracy"]
