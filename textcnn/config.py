"""Step settings: one dataclass per step, defaults = the original script's configuration.

Precedence: dataclass default < the step's section of a YAML file (`--config`) < command-line
flag. The CLI options are generated from these fields, so a setting is declared once.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import TextcnnError


def setting(default: Any, help: str, *, choices: tuple = (), required: bool = False,
            positional: bool = False, cli: bool = True) -> Any:
    """A config field with the help text and CLI details the parser needs."""
    return field(default=default, metadata={
        "help": help, "choices": choices, "required": required, "positional": positional, "cli": cli})


@dataclass
class CleanConfig:
    train: Optional[str] = setting(None, "training file", required=True)
    dev: Optional[str] = setting(None, "dev file; without it, a stratified --dev-ratio share of train")
    test: Optional[str] = setting(None, "test file")
    out: Optional[str] = setting(None, "output folder", required=True)
    format: str = setting("tsv", "input format: tsv = `label<TAB>text` lines (header-less unless "
                          "--text-col/--label-col are given), csv = header row, jsonl = one object a line",
                          choices=("tsv", "csv", "jsonl"))
    text_col: Optional[str] = setting(None, "column (or JSON key) holding the text; default `text` "
                                      "for csv/jsonl; for tsv it means the file has a header row")
    label_col: Optional[str] = setting(None, "column (or JSON key) holding the label; default `label`")
    tokenizer: str = setting("char", "char: every non-space character; jieba: Chinese words; "
                             "whitespace: split on spaces", choices=("char", "jieba", "whitespace"))
    stopwords: Optional[str] = setting(None, "UTF-8 file, one stopword a line, removed after tokenising")
    user_dict: Optional[str] = setting(None, "jieba user dictionary (`word [freq] [tag]` a line)")
    dev_ratio: float = setting(0.2, "share of train held out as dev when no --dev is given")
    seed: int = setting(42, "random seed of the dev split")
    lowercase: bool = setting(False, "lower-case letters (Latin and other cased scripts)")
    dedupe: bool = setting(False, "drop repeated texts within a split and dev/test texts seen in train")
    max_reject_ratio: float = setting(0.01, "fail when more than this share of a file's lines is "
                                      "rejected (duplicates dropped by --dedupe do not count)")
    max_chars: int = setting(100_000, "reject texts longer than this many characters")
    workers: int = setting(0, "processes for normalising and tokenising large inputs; 0 = all cores")
    quiet: bool = setting(False, "no progress bars")


@dataclass
class VocabConfig:
    data: Optional[str] = setting(None, "output folder of `textcnn clean`", required=True)
    out: Optional[str] = setting(None, "output folder", required=True)
    min_count: int = setting(5, "keep tokens seen at least this often in train")
    max_size: int = setting(0, "keep at most this many tokens (most frequent first); 0 = no limit")
    pretrained: Optional[str] = setting(None, "word2vec vectors file (text; --binary for binary)")
    binary: bool = setting(False, "--pretrained is in word2vec binary format")
    train_word2vec: bool = setting(False, "train gensim Word2Vec on the train tokens (no --pretrained)")
    embedding_dim: int = setting(300, "embedding size without --pretrained (the file sets it otherwise)")
    word2vec_epochs: int = setting(5, "epochs of --train-word2vec")
    seed: int = setting(42, "seed of random vectors and Word2Vec")
    workers: int = setting(0, "Word2Vec threads; 0 = all cores")
    quiet: bool = setting(False, "no progress output")


@dataclass
class TrainConfig:
    data: Optional[str] = setting(None, "output folder of `textcnn clean`", required=True)
    vocab: Optional[str] = setting(None, "output folder of `textcnn vocab`", required=True)
    out: Optional[str] = setting(None, "output folder (model, checkpoints, TensorBoard logs)", required=True)
    variant: str = setting("non-static", "Kim's embedding variants: rand (random, trained), static "
                           "(pretrained, frozen), non-static (pretrained, trained), multichannel (both)",
                           choices=("rand", "static", "non-static", "multichannel"))
    epochs: int = setting(10, "passes over the training data")
    batch_size: int = setting(16, "training batch size")
    seq_len: int = setting(100, "tokens per text: longer texts are cut, shorter padded")
    filter_sizes: tuple = setting((2, 3, 4, 5), "convolution widths, comma-separated")
    num_filters: int = setting(300, "filters per width")
    dropout: float = setting(0.5, "dropout rate before the output layer")
    lr: float = setting(1e-3, "Adam learning rate (the peak, with --warmup-steps or a decaying --lr-schedule)")
    lr_schedule: str = setting("constant", "learning rate over the run: constant (the original), or cosine / "
                               "linear decay to 0 at the last step of --epochs", choices=("constant", "cosine", "linear"))
    warmup_steps: int = setting(0, "steps of linear warm-up from 0 to --lr at the start")
    l2: float = setting(0.0, "L2 penalty on the output layer's weights")
    max_norm: float = setting(0.0, "max-norm constraint on the output layer's weights (Kim: 3); 0 = off")
    eval_every: int = setting(1000, "evaluate on the whole dev set every N steps (and each epoch)")
    checkpoint_every: int = setting(1000, "save a checkpoint every N steps (and each epoch)")
    keep_checkpoints: int = setting(5, "checkpoints kept")
    early_stop_patience: int = setting(3, "stop after this many epochs without a better dev accuracy; "
                                       "0 = never. The best weights are kept either way")
    resume: bool = setting(False, "continue from the latest checkpoint in --out")
    precision: str = setting("float32", "float32, or mixed precision with bfloat16/float16 compute (on CPU: "
                             "mixed_bfloat16 is fastest without --xla where the CPU has AVX-512 BF16; "
                             "mixed_float16 needs --xla, its CPU kernels are several times slower without)",
                             choices=("float32", "mixed_bfloat16", "mixed_float16"))
    xla: bool = setting(False, "compile the training step with XLA")
    distribute: str = setting("none", "none; mirrored: every GPU of this machine (tf.distribute.MirroredStrategy); "
                              "multi-worker: the machines of TF_CONFIG (MultiWorkerMirroredStrategy). "
                              "--batch-size is then the global batch", choices=("none", "mirrored", "multi-worker"))
    seed: int = setting(42, "seed of weights, dropout and shuffling")
    log_every: int = setting(100, "write training scalars to TensorBoard every N steps")
    eval_batch_size: int = setting(1024, "batch size of dev evaluation")
    quiet: bool = setting(False, "no progress bar")


@dataclass
class EvaluateConfig:
    data: Optional[str] = setting(None, "output folder of `textcnn clean`", required=True)
    vocab: Optional[str] = setting(None, "output folder of `textcnn vocab`", required=True)
    model: Optional[str] = setting(None, "output folder of `textcnn train`", required=True)
    out: Optional[str] = setting(None, "output folder", required=True)
    split: str = setting("test", "split to evaluate", choices=("train", "dev", "test"))
    beta: float = setting(1.0, "beta of the reported macro F-beta")
    top_mistakes: int = setting(20, "most confident mistakes listed in mistakes.tsv")
    batch_size: int = setting(1024, "prediction batch size")
    quiet: bool = setting(False, "no progress output")


@dataclass
class ExportConfig:
    model: Optional[str] = setting(None, "output folder of `textcnn train`", required=True)
    vocab: Optional[str] = setting(None, "output folder of `textcnn vocab`", required=True)
    out: Optional[str] = setting(None, "base folder; the model goes to OUT/VERSION (TF Serving layout)",
                                 required=True)
    version: Optional[int] = setting(None, "version number; default: one above the highest in --out")
    metrics: Optional[str] = setting(None, "output folder of `textcnn evaluate` for the --min-accuracy gate")
    min_accuracy: float = setting(0.0, "refuse to export when the evaluated accuracy is below this")
    fold: str = setting("auto", "serve with the embedding folded into the convolutions (a table lookup "
                        "instead of matrix multiplies; same outputs up to float rounding): auto = when the "
                        "table (vocab x widths x filters floats) fits in 256 MiB", choices=("auto", "on", "off"))
    quiet: bool = setting(False, "no progress output")


@dataclass
class PredictConfig:
    model: Optional[str] = setting(None, "exported model: OUT of `textcnn export` (highest version) "
                                   "or one OUT/VERSION folder", required=True)
    input: str = setting("-", "file of texts, one a line; - = standard input", positional=True)
    top_k: int = setting(1, "print the K most probable labels with their probabilities")
    batch_size: int = setting(256, "texts per model call")
    quiet: bool = setting(False, "no progress output")


STEP_CONFIGS: dict[str, type] = {
    "clean": CleanConfig, "vocab": VocabConfig, "train": TrainConfig,
    "evaluate": EvaluateConfig, "export": ExportConfig, "predict": PredictConfig,
}


def field_kinds(cls: type) -> dict[str, type]:
    """The plain type of each field: str, int, float, bool or tuple (Optional stripped)."""
    kinds = {}
    for name, hint in typing.get_type_hints(cls).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        kinds[name] = args[0] if args else hint
    return kinds


def parse_value(kind: type, raw: Any, name: str) -> Any:
    """Convert a YAML or CLI value to the field's type; raise ValueError with a readable reason."""
    if raw is None:
        return None
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        raise ValueError(f"{name} must be true or false, not {raw!r}")
    if kind is tuple:
        items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
        try:
            values = tuple(int(str(i).strip()) for i in items if str(i).strip())
        except ValueError:
            raise ValueError(f"{name} must be comma-separated whole numbers, not {raw!r}") from None
        if not values:
            raise ValueError(f"{name} needs at least one number")
        return values
    what = {int: "a whole number", float: "a number", str: "a string"}[kind]
    if isinstance(raw, bool) or (kind is int and isinstance(raw, float) and not raw.is_integer()) \
            or (kind is str and not isinstance(raw, (str, int, float))):
        raise ValueError(f"{name} must be {what}, not {raw!r}")
    try:
        return kind(raw) if kind is not int else int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}, not {raw!r}") from None


def load_yaml(path: str) -> dict:
    import yaml

    p = Path(path)
    fix = "pass a YAML file with one section per step, e.g. `train: {epochs: 5}`"
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TextcnnError("config file not found", "check the --config path", file=p) from None
    except UnicodeDecodeError:
        raise TextcnnError("config file is not UTF-8", "save it as UTF-8", file=p) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise TextcnnError(f"not valid YAML ({getattr(e, 'problem', e)})", fix, file=p,
                           line=mark.line + 1 if mark else None) from None
    doc = doc or {}
    if not isinstance(doc, dict):
        raise TextcnnError("the config must be a mapping of step names to settings", fix, file=p)
    for section, values in doc.items():
        if section not in STEP_CONFIGS and section != "pipeline":
            raise TextcnnError(f"unknown section {section!r}",
                               f"use one of {', '.join(STEP_CONFIGS)}", file=p)
        if values is not None and not isinstance(values, dict):
            raise TextcnnError(f"section {section!r} must be a mapping of settings", fix, file=p)
    return doc


def resolve(step: str, config_file: str | None = None, overrides: dict | None = None):
    """Build the step's config from defaults, the YAML section and the non-None overrides."""
    cls = STEP_CONFIGS[step]
    kinds = field_kinds(cls)
    values: dict[str, Any] = {}
    if config_file:
        section = load_yaml(config_file).get(step) or {}
        for key, raw in section.items():
            name = str(key).replace("-", "_")
            if name not in kinds:
                near = difflib.get_close_matches(name, kinds, n=1)
                hint = f"did you mean {near[0]!r}?" if near else f"settings of {step}: {', '.join(kinds)}"
                raise TextcnnError(f"unknown setting {step}.{key}", hint, file=config_file)
            try:
                values[name] = parse_value(kinds[name], raw, f"{step}.{key}")
            except ValueError as e:
                raise TextcnnError(str(e), "fix the value in the config file", file=config_file) from None
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    cfg = cls(**values)
    for f in dataclasses.fields(cls):
        if f.metadata["required"] and getattr(cfg, f.name) is None:
            flag = "--" + f.name.replace("_", "-")
            raise TextcnnError(f"{step} needs {flag}", f"pass {flag} or set {step}.{f.name} in --config")
    return cfg
