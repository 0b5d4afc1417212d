"""The pipeline factory: clean -> vocab -> train -> evaluate -> [accuracy gate] -> export.

`build_pipeline` returns a KFP pipeline function for a given set of data inputs, like TFX's
`create_pipeline`. Its run-time parameters are the data URIs plus every parameter of the five
components (the components' signatures are the one source; a parameter that several steps
take, like `seed` or `min_accuracy`, is one pipeline parameter) plus the MLflow names.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from kfp import dsl, kubernetes

from textcnn_components.clean.component import clean
from textcnn_components.evaluate.component import evaluate
from textcnn_components.export.component import export
from textcnn_components.train.component import train
from textcnn_components.vocab.component import vocab

STEPS = {"clean": clean, "vocab": vocab, "train": train, "evaluate": evaluate, "export": export}
DATA_INPUTS = ("train", "dev", "test", "pretrained", "stopwords", "user_dict")
# Filled in by the pipeline itself, not by the user.
RUN_IDENTITY = {"kfp_run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER, "kfp_run_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER}
# Component inputs the pipeline sets itself, never pipeline parameters.
INTERNAL = set(RUN_IDENTITY) | {"checkpoint_root"}
_TYPES = {"String": str, "Integer": int, "Float": float, "Boolean": bool}


# The Kubernetes objects the tasks read (manifests/pipeline-namespace, manifests/overlays).
MLFLOW_SECRET = "textcnn-mlflow"  # MLFLOW_TRACKING_URI and, if the server needs them, credentials
MLFLOW_KEYS = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
               "MLFLOW_TRACKING_TOKEN")
GPU_POOL_LABEL = "textcnn.dev/gpu-node-pool"  # a PodDefault may add tolerations / node selector


@dataclass(frozen=True)
class Resources:
    """What the train task asks the cluster for (kfp.local ignores all of it)."""
    gpus: int = 1  # 0: none; several: train with the pipeline parameter distribute=mirrored
    cpu: str = "4"
    memory: str = "16Gi"
    # e.g. {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    toleration: dict | None = None


@dataclass(frozen=True)
class Recovery:
    """How tasks survive failures. `retries`: each task runs again up to this many times, after
    `backoff` seconds doubling each time (a preempted node, an evicted pod, a flaky service).
    `workspace`: the size of a KFP pipeline workspace (a PVC on the cluster) where train keeps its
    checkpoints, so a retried train pod resumes instead of starting over; without one, train
    resumes only where its output folder outlives the attempt (kfp.local, a FUSE-mounted root)."""
    retries: int = 0
    backoff: int = 30
    workspace: str | None = None


def step_parameters() -> dict[str, inspect.Parameter]:
    """Every user-settable parameter of the components, once, with its type and default."""
    params: dict[str, inspect.Parameter] = {}
    for component in STEPS.values():
        for name, spec in component.component_spec.inputs.items():
            if spec.type not in _TYPES or name in INTERNAL or name in params:
                continue
            default = spec.default if spec.default is not None else ""
            params[name] = inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                             default=_TYPES[spec.type](default), annotation=_TYPES[spec.type])
    params["registered_model_name"] = params.pop("registered_model_name")  # MLflow names last
    params["mlflow_experiment"] = params.pop("mlflow_experiment")
    params["mlflow_parent_run_id"] = params.pop("mlflow_parent_run_id")
    return params


def build_pipeline(inputs: tuple[str, ...] = ("train", "dev", "test"), resources: Resources = Resources(),
                   name: str = "textcnn", recovery: Recovery = Recovery()):
    """The pipeline function for these data inputs (`train` is required; see DATA_INPUTS)."""
    unknown = set(inputs) - set(DATA_INPUTS)
    if "train" not in inputs or unknown:
        raise ValueError(f"inputs must include train and come from {DATA_INPUTS}, not {sorted(unknown)}")
    uris = [inspect.Parameter(f"{i}_uri", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str)
            for i in DATA_INPUTS if i in inputs]
    signature = inspect.Signature(uris + list(step_parameters().values()))

    def pipeline(*args, **kwargs):
        p = signature.bind(*args, **kwargs).arguments

        def run(step: str, **artifacts):
            accepted = STEPS[step].component_spec.inputs
            internal = {"checkpoint_root": dsl.WORKSPACE_PATH_PLACEHOLDER} if step == "train" and recovery.workspace \
                else {}
            task = STEPS[step](**artifacts, **RUN_IDENTITY, **internal,
                               **{k: v for k, v in p.items() if k in accepted})
            _mlflow_environment(task)
            if recovery.retries:
                task.set_retry(recovery.retries, backoff_duration=f"{recovery.backoff}s", backoff_factor=2.0,
                               backoff_max_duration="3600s")
            return task.set_display_name(step)

        data = {i: dsl.importer(artifact_uri=p[f"{i}_uri"], artifact_class=dsl.Dataset, reimport=False)
                .set_display_name(f"import-{i}").output for i in DATA_INPUTS if i in inputs}
        cleaned = run("clean", **{k: v for k, v in data.items() if k != "pretrained"})
        vocabulary = run("vocab", data=cleaned.outputs["data"],
                         **({"pretrained": data["pretrained"]} if "pretrained" in data else {}))
        trained = run("train", data=cleaned.outputs["data"], vocab=vocabulary.outputs["vocab"])
        _request_resources(trained, resources)
        evaluated = run("evaluate", data=cleaned.outputs["data"], vocab=vocabulary.outputs["vocab"],
                        model=trained.outputs["model"])
        # TFX's blessing: only a model that passes the accuracy gate is exported and registered.
        with dsl.If(evaluated.outputs["Output"] >= p["min_accuracy"], name="accuracy-gate"):
            run("export", model=trained.outputs["model"], vocab=vocabulary.outputs["vocab"],
                evaluation=evaluated.outputs["evaluation"])

    pipeline.__signature__ = signature
    pipeline.__name__ = name.replace("-", "_")
    pipeline.__doc__ = _docstring(uris)
    config = dsl.PipelineConfig(workspace=dsl.WorkspaceConfig(size=recovery.workspace)) if recovery.workspace else None
    return dsl.pipeline(name=name, description="TextCNN (Kim 2014) text classifier: clean, vocab, train, "
                        "evaluate, export; logged to MLflow.", pipeline_config=config)(pipeline)


def _mlflow_environment(task) -> None:
    """Where MLflow is and how to log in, from the pipeline namespace's Secret, never the YAML.
    Optional keys: a pod without the Secret gets tracking.py's one-line error, not a pod stuck in
    CreateContainerConfigError, and servers without authentication need no credentials."""
    kubernetes.use_secret_as_env(task, secret_name=MLFLOW_SECRET, secret_key_to_env={k: k for k in MLFLOW_KEYS},
                                 optional=True)


def _request_resources(task, resources: Resources) -> None:
    task.set_cpu_request(resources.cpu).set_memory_request(resources.memory).set_memory_limit(resources.memory)
    if resources.gpus:
        task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(resources.gpus)
    if resources.toleration:
        kubernetes.add_toleration(task, **resources.toleration)
    kubernetes.add_pod_label(task, GPU_POOL_LABEL, "true")


def _docstring(uris: list[inspect.Parameter]) -> str:
    """Parameter descriptions for the KFP UI, from the config help texts."""
    from textcnn.config import STEP_CONFIGS

    helps = {}
    for cls in STEP_CONFIGS.values():
        for f in cls.__dataclass_fields__.values():
            helps.setdefault(f.name, f.metadata["help"])
    helps.update({
        "min_accuracy": "export (and register) only when the evaluated accuracy is at least this",
        "mlflow_experiment": "MLflow experiment of the runs",
        "registered_model_name": "MLflow registered model the exported model becomes a version of",
        "mlflow_parent_run_id": "log under this MLflow run instead of finding or creating one",
        "filter_sizes": "convolution widths, comma-separated",
        "seed": "one seed for the dev split, random vectors and Word2Vec, and training",
    })
    lines = ["TextCNN training pipeline.", "", "Args:"]
    lines += [f"    {u.name}: path or URI (gs://, s3://, minio://) of the {u.name[:-4]} file" for u in uris]
    lines += [f"    {name}: {helps.get(name, name)}" for name in step_parameters()]
    return "\n".join(lines)
