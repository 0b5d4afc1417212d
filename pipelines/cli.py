"""`textcnn-pipeline compile | run | submit`: the pipeline from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from textcnn.errors import TextcnnError

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample"
OPTIONAL_INPUTS = ("dev", "test", "pretrained", "stopwords", "user_dict")


def parse_params(pairs: list[str], config_file: str | None = None) -> dict:
    """Pipeline parameters from a --config YAML (step sections and `pipeline:`) and k=v pairs."""
    from textcnn.config import load_yaml, parse_value

    from .pipeline import step_parameters

    known = step_parameters()
    raw: dict = {}
    if config_file:
        for section, values in load_yaml(config_file).items():
            for key, value in (values or {}).items():
                name = str(key).replace("-", "_")
                if name in known:  # settings of the CLI that the pipeline does not take are skipped
                    raw[name] = ",".join(map(str, value)) if isinstance(value, list) else value
                elif section == "pipeline":
                    raise TextcnnError(f"unknown pipeline parameter {key!r}", "see `textcnn-pipeline params`",
                                       file=config_file)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        name = key.strip().replace("-", "_")
        if not sep or name not in known:
            raise TextcnnError(f"--param {pair!r} is not NAME=VALUE with a pipeline parameter's NAME",
                               "list them with `textcnn-pipeline params`")
        raw[name] = value
    params = {}
    for name, value in raw.items():
        kind = known[name].annotation
        if kind is bool and isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise TextcnnError(f"parameter {name} must be true or false, not {value!r}", "e.g. xla=true")
            value = value.lower() in ("true", "1", "yes")
        try:
            params[name] = parse_value(kind, value, name)
        except ValueError as e:
            raise TextcnnError(str(e), "fix the value") from None
    return params


def _resources(args):
    from .pipeline import Resources

    toleration = None
    if args.toleration:
        # KEY[=VALUE]:EFFECT, e.g. nvidia.com/gpu:NoSchedule or pool=gpu:NoSchedule
        spec, _, effect = args.toleration.rpartition(":")
        key, eq, value = spec.partition("=")
        if not key or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise TextcnnError(f"--toleration {args.toleration!r} is not KEY[=VALUE]:EFFECT",
                               "e.g. --toleration nvidia.com/gpu:NoSchedule")
        toleration = {"key": key, "operator": "Equal" if eq else "Exists", "effect": effect, **({"value": value} if eq else {})}
    if args.train_gpus < 1:
        raise TextcnnError(f"--train-gpus must be at least 1, not {args.train_gpus}", "use --no-gpu for none")
    return Resources(gpus=0 if args.no_gpu else args.train_gpus, cpu=args.train_cpu, memory=args.train_memory,
                     toleration=toleration)


def _recovery(args):
    from .pipeline import Recovery

    if args.retries < 0 or args.retry_backoff < 0:
        raise TextcnnError("--retries and --retry-backoff must not be negative", "e.g. --retries 2 --retry-backoff 30")
    return Recovery(retries=args.retries, backoff=args.retry_backoff, workspace=args.checkpoint_workspace)


def _inputs(args) -> tuple[str, ...]:
    return ("train",) + tuple(i for i in OPTIONAL_INPUTS if i not in args.without and (i in args.with_ or i in ("dev", "test")))


def compile_pipeline(args) -> Path:
    from kfp import compiler

    from .pipeline import build_pipeline

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.yaml")  # the compiler insists on .yaml
    compiler.Compiler().compile(build_pipeline(_inputs(args), _resources(args), recovery=_recovery(args)), str(tmp))
    os.replace(tmp, out)
    return out


def cmd_compile(args) -> int:
    print(f"compiled: {compile_pipeline(args)}")
    return 0


def cmd_params(args) -> int:
    from .pipeline import step_parameters

    for name, p in step_parameters().items():
        print(f"{name}\t{p.annotation.__name__}\t{p.default}")
    return 0


def cmd_run(args) -> int:
    from .local import run_local

    if args.train and args.data:
        raise TextcnnError("--data and --train exclude each other", "pass a folder with --data or files with --train")
    data = {} if args.train else _files_in(Path(args.data) if args.data else SAMPLE)
    if args.train:
        data["train"] = args.train
    for name in OPTIONAL_INPUTS:
        if getattr(args, name):
            data[name] = getattr(args, name)
    params = parse_params(args.param, args.config)
    result = run_local(data, params, args.workspace, args.runner, recovery=_recovery(args))
    print(summary_text(result))
    return 0


def _files_in(folder: Path) -> dict:
    """train/dev/test files of a data folder: train.tsv (or .csv, .jsonl, .txt), dev.*, test.*."""
    found = {}
    for name in ("train", "dev", "test"):
        hits = [p for p in sorted(folder.glob(f"{name}.*")) if p.suffix in (".tsv", ".csv", ".jsonl", ".txt")]
        if hits:
            found[name] = str(hits[0])
    if "train" not in found:
        raise TextcnnError("no train.tsv (or .csv, .jsonl, .txt) here", "pass a data folder or --train FILE",
                           file=folder)
    return found


def summary_text(r: dict) -> str:
    lines = ["", "textcnn pipeline finished"]
    m = r["metrics"]
    if m:
        lines.append(f"  {m['split']} metrics: accuracy {m['accuracy']:.4f}, macro F1 {m['macro_f1']:.4f}, "
                     f"weighted F1 {m['weighted_f1']:.4f}, macro precision {m['macro_precision']:.4f}, "
                     f"macro recall {m['macro_recall']:.4f} ({m['examples']} examples)")
    if r["export"]:
        lines.append(f"  exported model: {r['export']} (registered as {r['registered_model']})")
    else:
        lines.append("  not exported: the accuracy gate (min_accuracy) was not passed")
    lines.append(f"  MLflow run: {r['mlflow_run_id']} in experiment {r['mlflow_experiment']} ({r['tracking_uri']})")
    lines.append(f"  see it with `make mlflow-ui`, then http://127.0.0.1:5000/#/experiments/"
                 f"{r['mlflow_experiment_id']}/runs/{r['mlflow_run_id']}")
    lines.append(f"  task outputs: {r['pipeline_dir']}")
    return "\n".join(lines)


def cmd_submit(args) -> int:
    from .submit import submit

    package = Path(args.package) if args.package else None
    if package is None:
        args.output = str(Path(args.workspace) / "textcnn_pipeline.yaml")
        package = compile_pipeline(args)
    params = parse_params(args.param, args.config)
    for name in ("train",) + OPTIONAL_INPUTS:
        uri = getattr(args, f"{name}_uri", None)
        if uri:
            params[f"{name}_uri"] = uri
    if args.package is None:
        missing = [i for i in _inputs(args) if f"{i}_uri" not in params]
        if missing:
            flag = f"--{missing[0].replace('_', '-')}-uri"
            raise TextcnnError(f"the pipeline reads {', '.join(missing)} but no URI was given",
                               f"pass {flag} (a gs://, s3:// or minio:// URI the cluster can read)")
    url = submit(package, host=args.host, experiment=args.experiment, pipeline_name=args.pipeline_name,
                 run_name=args.run_name, params=params, enable_caching=not args.no_cache, namespace=args.namespace)
    print(f"submitted: {url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textcnn-pipeline", description="The textcnn Kubeflow pipeline.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def shape_options(p):
        p.add_argument("--with", dest="with_", action="append", default=[], choices=OPTIONAL_INPUTS,
                       metavar="INPUT", help="add a data input: pretrained, stopwords or user_dict (repeatable)")
        p.add_argument("--without", action="append", default=[], choices=("dev", "test"),
                       help="leave out the dev or test input (repeatable)")
        p.add_argument("--no-gpu", action="store_true", help="do not ask for a GPU for the train task")
        p.add_argument("--train-gpus", type=int, default=1, metavar="N",
                       help="GPUs for the train task (default: 1; more: also --param distribute=mirrored)")
        p.add_argument("--train-cpu", default="4", help="CPU request of the train task (default: 4)")
        p.add_argument("--train-memory", default="16Gi", help="memory request and limit of the train task (default: 16Gi)")
        p.add_argument("--toleration", metavar="KEY[=VALUE]:EFFECT",
                       help="a toleration for the train task, e.g. nvidia.com/gpu:NoSchedule")

    def recovery_options(p, retries: int):
        p.add_argument("--retries", type=int, default=retries,
                       help=f"run a failed task again up to N times (default: {retries}); train resumes from its "
                       "checkpoints")
        p.add_argument("--retry-backoff", type=int, default=30, metavar="SECONDS",
                       help="wait before the first retry, doubled for each next one (default: 30)")
        p.add_argument("--checkpoint-workspace", metavar="SIZE",
                       help="keep train's checkpoints in a KFP pipeline workspace of this size (e.g. 20Gi; a PVC "
                       "on the cluster, needs KFP >= 2.14), so a retried train pod resumes")

    def param_options(p):
        p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a pipeline parameter (repeatable); `textcnn-pipeline params` lists them")
        p.add_argument("--config", metavar="YAML", help="YAML with step sections (as `textcnn --config`) and a "
                       "`pipeline:` section; --param wins")

    c = sub.add_parser("compile", help="write the pipeline IR YAML")
    c.add_argument("--output", default="build/textcnn_pipeline.yaml", help="(default: build/textcnn_pipeline.yaml)")
    shape_options(c)
    recovery_options(c, retries=2)
    c.set_defaults(func=cmd_compile)

    p = sub.add_parser("params", help="list the pipeline parameters with types and defaults")
    p.set_defaults(func=cmd_params)

    r = sub.add_parser("run", help="run the whole pipeline here with kfp.local (default: examples/sample)")
    r.add_argument("--data", metavar="DIR", help="folder with train.tsv and optional dev.tsv, test.tsv "
                   "(or .csv/.jsonl/.txt; default: examples/sample)")
    r.add_argument("--train", help="training file (instead of --data)")
    for name in OPTIONAL_INPUTS:
        r.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"{name.replace('_', ' ')} file")
    r.add_argument("--workspace", default="runs/pipeline", help="task outputs go here (default: runs/pipeline)")
    r.add_argument("--runner", choices=("subprocess", "docker"), default="subprocess",
                   help="subprocess: components run in this Python environment (default); docker: each in its "
                   "image through the Docker API (Docker, or podman's socket in DOCKER_HOST; needs an MLflow server)")
    recovery_options(r, retries=0)
    param_options(r)
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("submit", help="upload the pipeline (or a new version) to Kubeflow and start a run")
    s.add_argument("--host", required=True, help="KFP API endpoint, e.g. http://localhost:8080")
    s.add_argument("--experiment", default="textcnn", help="KFP experiment (default: textcnn)")
    s.add_argument("--pipeline-name", default="textcnn", help="KFP pipeline name (default: textcnn)")
    s.add_argument("--run-name", help="run name (default: textcnn-<time>)")
    s.add_argument("--namespace", help="Kubeflow profile namespace (multi-user clusters)")
    s.add_argument("--package", help="a compiled pipeline YAML (default: compile now)")
    s.add_argument("--no-cache", action="store_true", help="run every task again, even when cached")
    s.add_argument("--workspace", default="build", help="where to compile to (default: build)")
    for name in ("train",) + OPTIONAL_INPUTS:
        s.add_argument(f"--{name.replace('_', '-')}-uri", dest=f"{name}_uri", metavar="URI",
                       help=f"{name.replace('_', ' ')} file URI the cluster can read (gs://, s3://, minio://)")
    shape_options(s)
    recovery_options(s, retries=2)
    param_options(s)
    s.set_defaults(func=cmd_submit)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stdout.reconfigure(line_buffering=True)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TextcnnError as e:
        print(f"textcnn-pipeline {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
