"""Run the whole pipeline on this machine: kfp.local's SubprocessRunner, MLflow in a local store."""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from textcnn.errors import TextcnnError

DEFAULT_STORE = "mlflow.db"


class PipelineFailed(TextcnnError):
    """A task of the pipeline failed (its own log says why): exit status 1."""

    exit_code = 1


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else a SQLite store `mlflow.db` in the working folder (absolute, so every
    step process finds the same file)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(DEFAULT_STORE).resolve()}"


def run_local(data: dict[str, str], params: dict, workspace: str | Path = "runs/pipeline",
              runner: str = "subprocess", recovery=None) -> dict:
    """Run the pipeline on `data` ({input: path}); return where things are and the test metrics.

    runner "subprocess" runs the components in this Python environment; "docker" runs each in its
    image through the Docker API (Docker, or podman's compatible socket via DOCKER_HOST).
    """
    from kfp import local

    from textcnn import tracking

    from .pipeline import Recovery, build_pipeline

    for name, path in data.items():
        if not Path(path).is_file():
            raise TextcnnError(f"{name} file not found", f"check --{name.replace('_', '-')}", file=path)
    os.environ["MLFLOW_TRACKING_URI"] = default_tracking_uri()
    experiment = params.get("mlflow_experiment", "textcnn")
    started = _dt.datetime.now()
    workspace = Path(workspace).resolve()
    if runner == "docker":
        kfp_runner, data = _docker_runner(data, workspace / "outputs")
    else:
        kfp_runner = local.SubprocessRunner(use_venv=False)
    # Checked once, here: an unreachable tracking server stops the run before any work starts.
    run = tracking.PipelineRun(experiment, params.get("mlflow_parent_run_id", ""))
    parent = run.parent_run_id() if params.get("mlflow_parent_run_id") else _create_parent(run, started, data)
    local.init(runner=kfp_runner, pipeline_root=str(workspace / "outputs"), workspace_root=str(workspace / "workspace"))
    pipeline = build_pipeline(tuple(data), recovery=recovery or Recovery())
    arguments = {f"{k}_uri": str(Path(v).resolve()) for k, v in data.items()}
    try:
        pipeline(**arguments, **{**params, "mlflow_parent_run_id": parent})
    except BaseException as e:
        run.finish(False)
        if isinstance(e, RuntimeError):  # kfp.local: a task failed; its log is above
            raise PipelineFailed(str(e).strip().splitlines()[0], "see the failed task's log above") from None
        raise
    run.finish(True)
    return _summary(parent, experiment, workspace / "outputs", started)


def _docker_runner(data: dict, outputs: Path):
    """A DockerRunner whose containers see the inputs and reach the tracking server like this process."""
    import shutil

    from kfp import local

    uri = os.environ["MLFLOW_TRACKING_URI"]
    if not uri.startswith(("http://", "https://")):
        raise TextcnnError(f"--runner docker needs an MLflow server, not {uri}",
                           "start one (e.g. `mlflow server`) and set MLFLOW_TRACKING_URI=http://...")
    # Containers see only the pipeline root (mounted at the same path), so the inputs go there.
    inputs = outputs / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    copied = {}
    for name, path in data.items():
        copied[name] = str(inputs / f"{name}{Path(path).suffix}")
        shutil.copyfile(path, copied[name])
    # KFP's command is the whole program (as a pod's command is on Kubernetes), so the image's
    # ENTRYPOINT (`textcnn`) is cleared; the container runs as this user to write the outputs.
    runner = local.DockerRunner(entrypoint=[""], network_mode="host", user=f"{os.getuid()}:{os.getgid()}",
                                environment={"MLFLOW_TRACKING_URI": uri, "HOME": "/tmp"})
    return runner, copied


def _create_parent(run, started: _dt.datetime, data: dict) -> str:
    from textcnn import tracking

    run.kfp_run_name = f"textcnn-local-{started:%Y%m%d-%H%M%S}"
    parent = run.parent_run_id()
    c = tracking.client()
    c.set_tag(parent, "textcnn.runner", "kfp.local")
    for name, path in data.items():
        c.set_tag(parent, f"data.{name}", str(Path(path).resolve()))
    return parent


def _summary(parent: str, experiment: str, outputs: Path, started: _dt.datetime) -> dict:
    """Test metrics, the export's location and the MLflow run of the pipeline run just finished."""
    from textcnn import tracking

    runs = sorted((p for p in outputs.glob("textcnn-*") if p.is_dir() and p.stat().st_mtime >= started.timestamp()),
                  key=lambda p: p.stat().st_mtime)
    run_dir = runs[-1] if runs else None
    metrics_file = next(run_dir.glob("evaluate/evaluation/metrics.json"), None) if run_dir else None
    export_dir = next(run_dir.glob("export/saved_model"), None) if run_dir else None
    c = tracking.client()
    steps = c.search_runs([c.get_run(parent).info.experiment_id], f"tags.`{tracking.PARENT_TAG}` = '{parent}'")
    registered = next((r.data.tags.get("registered_model") for r in steps if "registered_model" in r.data.tags), None)
    return {
        "pipeline_dir": str(run_dir) if run_dir else None,
        "metrics": json.loads(metrics_file.read_text()) if metrics_file else None,
        "export": str(export_dir) if export_dir else None,
        "registered_model": registered,
        "mlflow_run_id": parent,
        "mlflow_experiment": experiment,
        "mlflow_experiment_id": c.get_run(parent).info.experiment_id,
        "tracking_uri": tracking.tracking_uri(),
    }
