"""Upload the compiled pipeline to a Kubeflow Pipelines cluster (as a new version if it exists) and start a run.

Credentials come from kfp.Client's usual sources (kubeconfig / in-cluster service account,
KF_PIPELINES_* environment variables, or a cookie/token in ~/.config/kfp/context.json);
nothing about them is in the pipeline YAML.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import warnings
from pathlib import Path

from textcnn import __version__
from textcnn.errors import TextcnnError


def submit(package: Path, *, host: str, experiment: str = "textcnn", pipeline_name: str = "textcnn",
           run_name: str | None = None, params: dict | None = None, enable_caching: bool = True,
           namespace: str | None = None) -> str:
    """Return the URL of the run created."""
    import kfp

    now = _dt.datetime.now(_dt.timezone.utc)
    # kfp.Client prints its own links and a version warning; the caller prints the run URL.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return _submit(kfp, now, package, host, experiment, pipeline_name, run_name, params, enable_caching,
                       namespace)


def _submit(kfp, now, package, host, experiment, pipeline_name, run_name, params, enable_caching, namespace) -> str:
    try:
        client = kfp.Client(host=host, namespace=namespace or "kubeflow")
        pipeline_id = client.get_pipeline_id(pipeline_name)
        version_name = f"{pipeline_name}-{__version__}-{now:%Y%m%d-%H%M%S}"
        if pipeline_id is None:
            pipeline_id = client.upload_pipeline(str(package), pipeline_name=pipeline_name,
                                                 description="TextCNN text classifier (textcnn-pipeline)").pipeline_id
            versions = client.list_pipeline_versions(pipeline_id, sort_by="created_at desc", page_size=1)
            version_id = versions.pipeline_versions[0].pipeline_version_id
        else:
            version_id = client.upload_pipeline_version(str(package), pipeline_version_name=version_name,
                                                        pipeline_id=pipeline_id).pipeline_version_id
        experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
        job_name = run_name or f"textcnn-{now:%Y%m%d-%H%M%S}"
        if enable_caching:
            run = client.run_pipeline(experiment_id=experiment_id, job_name=job_name, pipeline_id=pipeline_id,
                                      version_id=version_id, params=params or {})
        else:
            # KFP applies a run's caching override only to an inline spec, not to a stored version.
            run = client.run_pipeline(experiment_id=experiment_id, job_name=job_name,
                                      pipeline_package_path=str(package), params=params or {}, enable_caching=False)
    except Exception as e:  # kfp raises urllib3, ApiException and ValueError alike
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise TextcnnError(f"Kubeflow Pipelines at {host} refused the submission ({first})",
                           "check --host and your credentials (kubeconfig or KF_PIPELINES_* variables)") from None
    return f"{client._uihost.rstrip('/')}/#/runs/details/{run.run_id}"
