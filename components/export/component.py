"""KFP component: textcnn export (SavedModel for TF Serving) and MLflow model registration."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from textcnn_components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def export(
    model: Input[Model],
    vocab: Input[Dataset],
    evaluation: Input[Dataset],
    saved_model: Output[Model],
    min_accuracy: float = 0.0,
    fold: str = "auto",
    registered_model_name: str = "textcnn",
    mlflow_experiment: str = "textcnn",
    mlflow_parent_run_id: str = "",
    kfp_run_id: str = "",
    kfp_run_name: str = "",
):
    """Export the gated model and register it in MLflow; see components/export/README.md."""
    import json
    from pathlib import Path

    from textcnn import export as step
    from textcnn.config import ExportConfig
    from textcnn.tracking import PipelineRun

    cfg = ExportConfig(model=model.path, vocab=vocab.path, out=saved_model.path, version=1,
                       metrics=evaluation.path, min_accuracy=min_accuracy, fold=fold, quiet=True)
    pipeline = PipelineRun(mlflow_experiment, mlflow_parent_run_id, kfp_run_id, kfp_run_name)
    with pipeline.step("export", cfg, finishes_pipeline=True) as log:
        result = step.run(cfg)
        accuracy = json.loads((Path(evaluation.path) / "metrics.json").read_text())["accuracy"]
        registered = log.register(saved_model.path, registered_model_name, accuracy)
    saved_model.metadata.update({"version": result["version"], "labels": result["labels"],
                                 "registered_model": registered["name"],
                                 "registered_version": registered["version"], "alias": registered["alias"]})
