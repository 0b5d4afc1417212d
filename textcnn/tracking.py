"""MLflow tracking of pipeline runs: one parent run per pipeline run, one nested run per step.

Steps stay free of MLflow: each step writes its output folder, and `log_step` then logs what
that folder holds (parameters, metrics, curves, artifacts) into the step's run, so what MLflow
shows is exactly what the step wrote, and an outage of the server while a step works costs
nothing. The server is checked when a step starts, waiting up to TEXTCNN_MLFLOW_WAIT seconds (60)
for one that is down for a moment; each MLflow request is retried with backoff for about a
minute (MLflow's MLFLOW_HTTP_REQUEST_* settings, bounded here unless set); a server still down
when the results are logged is one clear error (TrackingFailed) while the step's outputs stay
complete, so rerunning the step (train resumes from its checkpoints) logs them.

The tracking server comes from MLFLOW_TRACKING_URI (MLflow's default otherwise). Where the
KFP MLflow integration has already set MLFLOW_RUN_ID in the pod, steps log into that run
instead of creating runs of their own.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from .errors import TextcnnError

PARENT_TAG = "mlflow.parentRunId"
KFP_RUN_TAG = "kfp.run_id"
STEP_TAG = "textcnn.step"
CHAMPION, CANDIDATE = "champion", "candidate"
# Config fields that are locations or switches of this machine, not parameters of the model.
NOT_PARAMS = {"train", "dev", "test", "out", "data", "vocab", "model", "metrics", "quiet", "workers", "resume"}


# Bounded retries for every MLflow request (MLflow's default retries span minutes per request):
# 5 retries with backoff 0, 4, 8, 16, 32 s, and 60 s to answer. Settings already in the
# environment win.
for _name, _value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5"), ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "2"),
                      ("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")):
    os.environ.setdefault(_name, _value)


class TrackingFailed(TextcnnError):
    """MLflow stopped answering after the step's work was done: its outputs are complete."""


def client():
    from mlflow import MlflowClient

    return MlflowClient()


def tracking_uri() -> str:
    import mlflow

    return mlflow.get_tracking_uri()


@contextlib.contextmanager
def _quick_failure() -> Iterator[None]:
    """Fail fast instead of MLflow's minutes of retries, for the one reachability check."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ.update({"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def ensure_experiment(name: str) -> str:
    """The experiment's id, creating it (with artifacts beside a local store) if needed.

    This is also the one check that the tracking server answers: unreachable or misconfigured
    tracking is a one-line error here, before any work starts.
    """
    from mlflow.exceptions import MlflowException

    if "MLFLOW_TRACKING_URI" not in os.environ and "KUBERNETES_SERVICE_HOST" in os.environ:
        # In a pod, MLflow's default (a SQLite file in the container) would silently lose everything.
        raise TextcnnError("MLFLOW_TRACKING_URI is not set in this pod",
                           "apply manifests/pipeline-namespace (Secret textcnn-mlflow) in the pipeline's namespace")
    uri = tracking_uri()
    wait = float(os.environ.get("TEXTCNN_MLFLOW_WAIT", "60"))
    deadline, pause = time.monotonic() + wait, 1.0
    while True:
        try:
            with _quick_failure():
                c = client()
                experiment = c.get_experiment_by_name(name)
                if experiment is not None:
                    return experiment.experiment_id
                # The kind makes the MLflow UI open the experiment in its model-training view.
                return c.create_experiment(name, artifact_location=_local_artifact_root(uri, name),
                                           tags={"mlflow.experimentKind": "custom_model_development"})
        except (MlflowException, OSError) as e:
            reason = _short_reason(e)
            if time.monotonic() + pause > deadline or not uri.startswith(("http://", "https://")):
                raise TextcnnError(f"MLflow tracking at {uri} is not usable ({reason})",
                                   "start the server or set MLFLOW_TRACKING_URI to one that answers") from None
            if pause == 1.0:
                print(f"MLflow at {uri} does not answer ({reason}); trying again for up to {wait:.0f} s "
                      "(TEXTCNN_MLFLOW_WAIT)", file=sys.stderr, flush=True)
            time.sleep(pause)  # a server restarting, a pod not ready yet: try again for a while
            pause = min(pause * 2, 15.0)


def _short_reason(e: Exception) -> str:
    """What went wrong, in a few words (MLflow's messages quote whole URLs and retry states)."""
    text = str(e)
    if "Max retries exceeded" in text:
        refused = "Connection refused" in text or "NewConnectionError" in text
        return "no answer after its retries" + (": connection refused" if refused else "")
    return text.splitlines()[0][:200] if text else type(e).__name__


def _local_artifact_root(uri: str, experiment: str) -> str | None:
    """Artifacts of a local SQLite store live beside it, wherever the steps' working folder is."""
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(uri.removeprefix("sqlite:///")).resolve()
    return (db.parent / "mlartifacts" / experiment).as_uri()


class PipelineRun:
    """The MLflow side of one pipeline run: its parent run, and a nested run per step.

    The parent is the given run id, else the run tagged with this KFP run id (so a retried or
    later step finds it), else a new run named after the KFP run. Any step failing marks the
    parent FAILED; the step that ends the pipeline marks it FINISHED.
    """

    def __init__(self, experiment: str, parent_run_id: str = "", kfp_run_id: str = "", kfp_run_name: str = ""):
        self.experiment, self.kfp_run_id, self.kfp_run_name = experiment, kfp_run_id, kfp_run_name
        self._parent = os.environ.get("MLFLOW_RUN_ID") or parent_run_id or None

    @property
    def owns_runs(self) -> bool:
        return not os.environ.get("MLFLOW_RUN_ID")  # else the KFP integration made the run

    def parent_run_id(self) -> str:
        experiment_id = ensure_experiment(self.experiment)  # also the one reachability check
        if self._parent is None:
            c = client()
            found = c.search_runs([experiment_id], f"tags.`{KFP_RUN_TAG}` = '{self.kfp_run_id}'",
                                  max_results=1) if self.kfp_run_id else []
            self._parent = found[0].info.run_id if found else c.create_run(
                experiment_id, run_name=self.kfp_run_name or None,
                tags={KFP_RUN_TAG: self.kfp_run_id, "textcnn.pipeline": "textcnn"}).info.run_id
        elif self.kfp_run_id and self.owns_runs:
            client().set_tag(self._parent, KFP_RUN_TAG, self.kfp_run_id)
        return self._parent

    def finish(self, succeeded: bool) -> None:
        if self.owns_runs and self._parent:
            client().set_terminated(self._parent, "FINISHED" if succeeded else "FAILED")

    @contextlib.contextmanager
    def step(self, name: str, cfg, finishes_pipeline: bool = False) -> Iterator["StepRun"]:
        """A nested run for one step; the body runs the step and calls `.log(out_dir)`."""
        parent = self.parent_run_id()
        c = client()
        if self.owns_runs:
            experiment_id = c.get_run(parent).info.experiment_id
            run_id = c.create_run(experiment_id, run_name=name, tags={
                PARENT_TAG: parent, STEP_TAG: name, KFP_RUN_TAG: self.kfp_run_id}).info.run_id
        else:
            run_id = parent
        params = _params(cfg)
        # The parent holds every step's settings, so they carry the step's name.
        _log_params(parent, {f"{name}.{k}": v for k, v in params.items()})
        if run_id != parent:
            _log_params(run_id, params)
        try:
            yield StepRun(name, run_id, parent)
        except TrackingFailed:
            raise  # the server is gone: marking the runs FAILED would only wait for it again
        except BaseException:
            if self.owns_runs:
                c.set_terminated(run_id, "FAILED")
            self.finish(False)
            raise
        with _results_of(name, None):
            if self.owns_runs:
                c.set_terminated(run_id, "FINISHED")
            if finishes_pipeline:
                self.finish(True)


@contextlib.contextmanager
def single_step(name: str, cfg, experiment: str, parent_run_id: str = "") -> Iterator["StepRun"]:
    """MLflow for a step run by hand (`textcnn <step> --mlflow-experiment`): a run of its own, or a
    nested run when a parent run id is given (or the KFP integration set MLFLOW_RUN_ID)."""
    if parent_run_id or os.environ.get("MLFLOW_RUN_ID"):
        with PipelineRun(experiment, parent_run_id).step(name, cfg) as run:
            yield run
        return
    c = client()
    run_id = c.create_run(ensure_experiment(experiment), run_name=name, tags={STEP_TAG: name}).info.run_id
    _log_params(run_id, _params(cfg))
    try:
        yield StepRun(name, run_id, run_id)
    except TrackingFailed:
        raise
    except BaseException:
        c.set_terminated(run_id, "FAILED")
        raise
    with _results_of(name, None):
        c.set_terminated(run_id, "FINISHED")


def _params(cfg) -> dict:
    return {k: v for k, v in asdict(cfg).items() if k not in NOT_PARAMS}


class StepRun:
    def __init__(self, step: str, run_id: str, parent_run_id: str):
        self.step, self.run_id, self.parent_run_id = step, run_id, parent_run_id

    def log(self, out: str | Path) -> None:
        with _results_of(self.step, out):
            log_step(self.step, self.run_id, out, self.parent_run_id)

    def register(self, export_dir: str | Path, model_name: str, accuracy: float | None) -> dict:
        with _results_of(self.step, export_dir):
            return log_and_register_export(self.run_id, export_dir, model_name, accuracy)


@contextlib.contextmanager
def _results_of(step: str, out) -> Iterator[None]:
    """MLflow failing once the step's work is done: one TrackingFailed line saying the outputs are safe."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, OSError) as e:
        reason = _short_reason(e)
        where = f"its outputs are complete in {out}; " if out else ""
        raise TrackingFailed(f"MLflow at {tracking_uri()} did not take the {step} step's results ({reason})",
                             f"{where}rerun the step once the server answers"
                             + (" (train resumes from its checkpoints)" if step == "train" else "")) from None


def _log_params(run_id: str, params: dict) -> None:
    from mlflow.entities import Param

    items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items()) if v is not None]
    for i in range(0, len(items), 100):
        client().log_batch(run_id, params=items[i:i + 100])


def _log_metrics(run_id: str, values: dict, step: int = 0) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    items = [Metric(k, float(v), now, step) for k, v in values.items() if isinstance(v, (int, float))]
    for i in range(0, len(items), 1000):
        client().log_batch(run_id, metrics=items[i:i + 1000])


def _read(folder: Path, name: str):
    return json.loads((folder / name).read_text(encoding="utf-8"))


def log_step(step: str, run_id: str, out: str | Path, parent_run_id: str | None = None) -> None:
    """Log a finished step's metrics and files into `run_id` (key results also to the parent)."""
    out = Path(out)
    c = client()
    if step == "clean":
        report = _read(out, "report.json")
        _log_metrics(run_id, {**{f"{k}": v for k, v in report["total"].items()},
                              **{f"{s}_examples": v["examples"] for s, v in report["splits"].items()},
                              **{f"rejected_{r}": n for r, n in report["rejected_by_reason"].items()},
                              "labels": len(report["labels"])})
        for name in ("report.json", "rejects.tsv"):
            c.log_artifact(run_id, str(out / name))
    elif step == "vocab":
        coverage = _read(out, "coverage.json")
        _log_metrics(run_id, {k: v for k, v in coverage.items() if k not in ("source", "file")})
        c.set_tag(run_id, "embeddings", coverage["source"])
        for name in ("vocab.json", "labels.json", "coverage.json"):
            c.log_artifact(run_id, str(out / name))
    elif step == "train":
        _log_training(run_id, out)
    elif step == "evaluate":
        metrics = _read(out, "metrics.json")
        flat = {f"test_{k}" if metrics["split"] == "test" else f"{metrics['split']}_{k}": v
                for k, v in metrics.items() if isinstance(v, (int, float)) and k != "beta"}
        _log_metrics(run_id, flat)
        if parent_run_id and parent_run_id != run_id:
            _log_metrics(parent_run_id, flat)  # the runs table shows the pipeline's result
        for name in ("metrics.json", "classification_report.txt", "confusion_matrix.png", "confusion_matrix.csv",
                     "predictions.tsv", "mistakes.tsv", "report.html"):
            c.log_artifact(run_id, str(out / name))


def _log_training(run_id: str, out: Path) -> None:
    """Curves by step (train and dev) and by epoch, the summary, the model and TensorBoard logs."""
    from mlflow.entities import Metric

    history = _read(out, "history.json")
    now = int(time.time() * 1000)
    items = []
    for r in history["train"]:
        items += [Metric(f"train_{k}", float(r[k]), now, r["step"]) for k in ("loss", "accuracy", "learning_rate")]
    for r in history["dev"]:
        items += [Metric(f"dev_{k}", float(r[k]), now, r["step"]) for k in ("loss", "accuracy", "macro_f1")]
    for r in history["epochs"]:
        items += [Metric(f"epoch_{k}", float(r[k]), now, r["epoch"] + 1)
                  for k in ("loss", "accuracy", "dev_loss", "dev_accuracy", "dev_macro_f1")]
    c = client()
    for i in range(0, len(items), 1000):
        c.log_batch(run_id, metrics=items[i:i + 1000])
    summary = history["summary"]
    _log_metrics(run_id, {"best_dev_accuracy": summary["best_dev"]["accuracy"],
                          "best_dev_step": summary["best_dev"]["step"], "steps": summary["steps"],
                          "epochs": summary["epochs"], "train_seconds": summary["train_seconds"],
                          "examples_per_second": summary["examples_per_second"]})
    c.set_tag(run_id, "stopped_early", str(summary["stopped_early"]).lower())
    for name in ("history.json", "model.keras"):
        c.log_artifact(run_id, str(out / name))
    c.log_artifacts(run_id, str(out / "tensorboard"), "tensorboard")


def log_and_register_export(run_id: str, export_dir: str | Path, model_name: str, accuracy: float | None) -> dict:
    """Log the SavedModel as an MLflow model and register it; alias champion or candidate.

    `champion` goes to the new version when no champion exists or the new test accuracy beats
    the champion's; otherwise the new version becomes `candidate`.
    """
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from . import __version__
    from .predict import find_version

    version_dir = find_version(export_dir)
    signature = ModelSignature(inputs=Schema([ColSpec("string", "text")]),
                               outputs=Schema([ColSpec("string", "label"), ColSpec("double", "probability")]))
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(Path(__file__).with_name("mlflow_model.py")),
            artifacts={"saved_model": str(version_dir)}, signature=signature,
            code_paths=[str(Path(__file__).parent)],
            pip_requirements=[f"tensorflow-cpu=={_installed('tensorflow-cpu', 'tensorflow')}",
                              f"jieba=={_installed('jieba')}", f"pyarrow=={_installed('pyarrow')}"])
    c = client()
    version = mlflow.register_model(info.model_uri, model_name, tags={"textcnn_version": __version__})
    if accuracy is not None:
        c.set_model_version_tag(model_name, version.version, "test_accuracy", str(accuracy))
    alias = CHAMPION if _beats_champion(model_name, accuracy) else CANDIDATE
    c.set_registered_model_alias(model_name, alias, version.version)
    c.set_tag(run_id, "registered_model", f"{model_name}/{version.version}@{alias}")
    return {"name": model_name, "version": int(version.version), "alias": alias, "model_uri": info.model_uri}


def _beats_champion(model_name: str, accuracy: float | None) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        champion = client().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return True  # no champion yet
    best = champion.tags.get("test_accuracy")
    return accuracy is not None and (best is None or accuracy > float(best))


def _installed(*names: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "0"
