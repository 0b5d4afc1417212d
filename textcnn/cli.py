"""The `textcnn` command: one subcommand per pipeline step, options generated from textcnn.config."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Callable

from . import __version__
from .config import STEP_CONFIGS, field_kinds, parse_value, resolve
from .errors import TextcnnError
from .quiet_import import import_tensorflow

TENSORFLOW_STEPS = ("train", "evaluate", "export", "predict")

DESCRIPTIONS = {
    "clean": "read labelled text, normalise, tokenise and split it; reject bad lines with reasons",
    "vocab": "build the token and label vocabulary and the embedding matrix from the train split",
    "train": "train the TextCNN (Kim 2014) with dev evaluation, checkpoints and TensorBoard logs",
    "evaluate": "metrics, report, confusion matrix and predictions of a trained model on one split",
    "export": "write a SavedModel for TF Serving with a raw-text signature (optionally gated on accuracy)",
    "predict": "classify text lines with an exported model",
}


METAVARS = {int: "N", float: "X", tuple: "N,N,...", str: "PATH",
            "data": "DIR", "vocab": "DIR", "model": "DIR", "out": "DIR", "metrics": "DIR",
            "text_col": "NAME", "label_col": "NAME"}


def _step(name: str) -> Callable:
    """The step's run function, imported on use so `--help` stays fast."""
    import importlib

    return importlib.import_module(f"textcnn.{name}").run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textcnn", description="TextCNN text classification, one pipeline step per subcommand.",
        epilog="Settings come from the defaults, then the step's section of --config YAML, then flags.")
    parser.add_argument("--version", action="version", version=f"textcnn {__version__}")
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for name, cls in STEP_CONFIGS.items():
        sub = steps.add_parser(name, help=DESCRIPTIONS[name], description=DESCRIPTIONS[name])
        sub.add_argument("--config", metavar="YAML", help=f"YAML file whose `{name}:` section sets options")
        if name != "predict":
            sub.add_argument("--mlflow-experiment", metavar="NAME",
                             help="log this step to MLflow (server: MLFLOW_TRACKING_URI) in this experiment")
            sub.add_argument("--mlflow-parent-run", metavar="RUN_ID",
                             help="with --mlflow-experiment: log as a nested run of this run (a pipeline run)")
        if name == "export":
            sub.add_argument("--registered-model-name", metavar="NAME", default="textcnn",
                             help="with --mlflow-experiment: register the export under this name (default: textcnn)")
        kinds = field_kinds(cls)
        for f in dataclasses.fields(cls):
            _add_option(sub, f, kinds[f.name])
    return parser


def _add_option(parser: argparse.ArgumentParser, f: dataclasses.Field, kind: type) -> None:
    meta = f.metadata
    default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
    help_text = meta["help"] + (" (required)" if meta["required"] else
                                "" if default is None else f" (default: {default})")
    if meta["positional"]:
        parser.add_argument(f.name, nargs="?", default=None, metavar=f.name.upper(), help=help_text)
        return
    flag = "--" + f.name.replace("_", "-")
    if kind is bool:
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        return
    metavar = "|".join(meta["choices"]) if meta["choices"] else METAVARS.get(f.name) or METAVARS[kind]
    parser.add_argument(flag, dest=f.name, default=None, metavar=metavar, help=help_text,
                        required=False, type=_converter(kind, flag, meta["choices"]))


def _converter(kind: type, flag: str, choices: tuple) -> Callable:
    def convert(raw: str):
        try:
            value = parse_value(kind, raw, flag)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        if choices and value not in choices:
            raise argparse.ArgumentTypeError(f"{flag} must be one of {', '.join(choices)}, not {raw!r}")
        return value
    convert.__name__ = kind.__name__
    return convert


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter off the terminal
    sys.stdout.reconfigure(line_buffering=True)  # progress reaches logs (CI, kubectl logs) as it happens
    args = build_parser().parse_args(argv)
    cli_only = ("step", "config", "mlflow_experiment", "mlflow_parent_run", "registered_model_name")
    overrides = {k: v for k, v in vars(args).items() if k not in cli_only}
    try:
        cfg = resolve(args.step, args.config, overrides)
        if args.step in TENSORFLOW_STEPS:
            import_tensorflow()
        _quiet_libraries()
        if getattr(args, "mlflow_experiment", None) and _logs_to_mlflow(args.step, cfg):
            result = _run_tracked(args, cfg)
        else:
            result = _step(args.step)(cfg)
        if args.step != "predict":
            print(summarise(args.step, cfg, result))
        return 0
    except TextcnnError as e:
        print(f"textcnn {args.step}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"textcnn {args.step}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `textcnn predict ... | head`
        sys.stderr.close()
        return 0


def _logs_to_mlflow(step: str, cfg) -> bool:
    """In a multi-worker training run only the chief logs: one MLflow run, not one per worker."""
    from . import distribute

    return step != "train" or distribute.role(cfg.distribute).chief


def _run_tracked(args, cfg) -> dict:
    """Run the step and log it to MLflow, as the pipeline's components do."""
    from . import tracking

    with tracking.single_step(args.step, cfg, args.mlflow_experiment, args.mlflow_parent_run or "") as run:
        result = _step(args.step)(cfg)
        if args.step == "export":
            accuracy = None
            if cfg.metrics:
                from .artifacts import read_json
                accuracy = read_json(f"{cfg.metrics}/metrics.json")["accuracy"]
            registered = run.register(result["path"], args.registered_model_name, accuracy)
            print(f"MLflow: registered {registered['name']} version {registered['version']} ({registered['alias']})")
        else:
            run.log(cfg.out)
        print(f"MLflow: run {run.run_id} in experiment {args.mlflow_experiment} at {tracking.tracking_uri()}")
    return result


def _quiet_libraries() -> None:
    import logging
    import warnings

    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for name in ("mlflow", "alembic"):  # database migrations and the like are not the user's news
        logging.getLogger(name).setLevel(logging.WARNING)
    # Each retry of an MLflow request (tracking.py bounds them); what finally happened is one line.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")


def summarise(step: str, cfg, result: dict) -> str:
    """One line on what the step did and where its outputs are."""
    if step == "clean":
        splits = ", ".join(f"{s} {v['examples']}" for s, v in result["splits"].items())
        t = result["total"]
        return (f"clean: {splits} examples, {len(result['labels'])} labels; rejected {t['rejected']} of "
                f"{t['input_lines']} lines (see {cfg.out}/rejects.tsv) -> {cfg.out}")
    if step == "vocab":
        source = result["source"]
        if source == "pretrained":
            source += (f" ({result['type_coverage']:.1%} of types, {result['token_coverage']:.1%} of tokens "
                       f"have a vector)")
        return (f"vocab: {result['vocab_size']} tokens, {result['embedding_dim']}-d {source} embeddings, "
                f"UNK rate {result['unk_rate']:.2%} -> {cfg.out}")
    if step == "train":
        best = result["best_dev"]
        return (f"train: best dev accuracy {best['accuracy']:.4f} (step {best['step']}, epoch {best['epoch'] + 1}); "
                f"{result['steps']} steps in {result['train_seconds']:.1f}s, {result['examples_per_second']:.0f} "
                f"examples/s -> {cfg.out}/model.keras")
    if step == "evaluate":
        return (f"evaluate: {result['split']} accuracy {result['accuracy']:.4f}, macro F1 {result['macro_f1']:.4f} "
                f"on {result['examples']} examples -> {cfg.out}")
    if step == "export":
        return f"export: {result['path']} (signature {result['signature']}: {result['input']} -> label, " \
               f"label_id, probabilities)"
    return str(result)


if __name__ == "__main__":
    sys.exit(main())
