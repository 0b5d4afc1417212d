"""`make bench`: every benchmark section in one run on this machine.

Writes bench/results/<date>.json, .md and .png and puts the table into bench/README.md.
Sections: gemm, training, time_to_accuracy, serving, preprocess, growth, large. Those needing
../shared/data (THUCNews, the Tencent vectors) are skipped with the reason when it is absent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import machine, report
from .common import ROOT, TENCENT_VECTORS, THUCNEWS, have_thucnews, random_batches, repeat_lines, textcnn

SECTIONS = ("gemm", "training", "time_to_accuracy", "serving", "preprocess", "growth", "large")
RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, default: all")
    ap.add_argument("--work", help="scratch folder (default: a temporary one, removed at the end)")
    ap.add_argument("--out", default=str(RESULTS), help="results folder (default bench/results)")
    ap.add_argument("--max-torch-epochs", type=int, default=10, help="PyTorch's epoch budget to reach the target")
    ap.add_argument("--epoch-lines", type=int, default=11_250,
                    help="1x size of the growth section's training epoch (clean and vocab use the whole file)")
    ap.add_argument("--no-readme", action="store_true", help="do not update bench/README.md")
    args = ap.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        ap.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")

    started = time.perf_counter()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="textcnn-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    r = {"date": stamp, "command": "make bench" if argv is None and len(sys.argv) == 1 else
         "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
         "machine": machine.describe(), "skipped": {}}
    print(f"bench: {r['machine']['cpu']}, {r['machine']['cores']} cores; work folder {work}", flush=True)

    def save() -> None:
        r["seconds"] = round(time.perf_counter() - started, 1)
        (out / f"{stamp}.json").write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")

    def section(name: str, fn) -> None:
        if name not in sections:
            return
        t0 = time.perf_counter()
        print(f"bench: {name} ...", flush=True)
        r[name] = fn()
        print(f"bench: {name} done in {time.perf_counter() - t0:.0f} s", flush=True)
        save()

    thucnews = have_thucnews()
    if not thucnews:
        for name in ("time_to_accuracy", "growth"):
            if name in sections:
                r["skipped"][name] = f"needs {THUCNEWS} and {TENCENT_VECTORS}, absent here"
        sections = [s for s in sections if s not in r["skipped"]]
    prepared = _prepare_thucnews(work / "thucnews") if thucnews and {"training", "time_to_accuracy"} & set(sections) \
        else None

    section("gemm", lambda: {dtype: machine.gemm_peak(dtype) for dtype in ("float32", "bfloat16")})
    if "training" in sections and "gemm" not in r:
        r["gemm"] = {dtype: machine.gemm_peak(dtype) for dtype in ("float32", "bfloat16")}
    section("training", lambda: _training(prepared, r["gemm"]))
    fastest = r.get("training", {}).get("fastest", {"precision": "float32", "xla": False})
    section("time_to_accuracy", lambda: _time_to_accuracy(work, prepared, fastest, args.max_torch_epochs))
    section("serving", lambda: _serving(work, r.get("time_to_accuracy", {}).get("ours", {}).get("export")))
    section("preprocess", lambda: _preprocess(work, thucnews))
    section("growth", lambda: _growth(work, args.epoch_lines))
    section("large", lambda: _large(work, have_thucnews()))

    save()
    text = report.markdown(r)
    (out / f"{stamp}.md").write_text(text, encoding="utf-8")
    report.chart(r, out / f"{stamp}.png")
    png = out / f"{stamp}.png"
    if not args.no_readme and out.resolve() == RESULTS.resolve():
        report.update_readme(Path(__file__).parent / "README.md", text, png.name if png.exists() else None)
    print(text)
    print(f"bench: results in {out / stamp}.json/.md/.png ({r['seconds'] / 60:.1f} min)")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _prepare_thucnews(folder: Path) -> dict:
    """Clean + vocab of THUCNews as examples/thucnews.yaml does it: the ids and vectors every
    training measurement shares."""
    config = ROOT / "examples" / "thucnews.yaml"
    textcnn("clean", "--config", config, "--train", THUCNEWS / "train_first45k.tsv", "--dev", THUCNEWS / "dev.tsv",
            "--test", THUCNEWS / "test.tsv", "--out", folder / "data")
    textcnn("vocab", "--config", config, "--data", folder / "data", "--out", folder / "vocab",
            "--pretrained", TENCENT_VECTORS)
    return {"data": folder / "data", "vocab": folder / "vocab"}


def _training(prepared: dict | None, peaks: dict) -> dict:
    from . import training

    batch_size, seq_len, n = training.REFERENCE["batch_size"], training.REFERENCE["seq_len"], 24
    if prepared:
        from textcnn.features import Vocabulary, load_split

        vocab = Vocabulary.load(prepared["vocab"])
        train = load_split(prepared["data"], "train")
        x = vocab.token_ids(train["tokens"], seq_len)[: n * batch_size]
        y = vocab.label_ids(train["label"], prepared["data"] / "train.parquet")[: n * batch_size]
        batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        vocab_size, classes, source = len(vocab.tokens), len(vocab.labels), "THUCNews train batches"
    else:
        vocab_size, classes, source = 5000, 10, "random token ids (THUCNews absent)"
        batches = random_batches(vocab_size, classes, seq_len, batch_size, n)
    result = training.run(batches, vocab_size=vocab_size, num_classes=classes, peaks=peaks)
    result["batches"] = source
    return result


def _time_to_accuracy(work: Path, prepared: dict, fastest: dict, max_torch_epochs: int) -> dict:
    from . import time_to_accuracy

    return time_to_accuracy.run(work / "tta", prepared["data"], prepared["vocab"], precision=fastest["precision"],
                                xla=fastest["xla"], max_torch_epochs=max_torch_epochs)


def _serving(work: Path, export: str | None) -> dict:
    from . import serving

    folder = work / "serving"
    if export:
        source = THUCNEWS / "test.tsv"
    else:  # no THUCNews run to take the model from: train one on the sample
        sample = ROOT / "examples" / "sample"
        source = sample / "test.tsv"
        textcnn("clean", "--train", sample / "train.tsv", "--dev", sample / "dev.tsv", "--out", folder / "data")
        textcnn("vocab", "--data", folder / "data", "--out", folder / "vocab", "--min-count", "1")
        textcnn("train", "--data", folder / "data", "--vocab", folder / "vocab", "--out", folder / "model",
                "--seq-len", "32", "--filter-sizes", "2,3,4", "--num-filters", "256", "--batch-size", "128",
                "--epochs", "2")
        textcnn("export", "--model", folder / "model", "--vocab", folder / "vocab", "--out", folder / "export")
        export = str(folder / "export")
    folder.mkdir(parents=True, exist_ok=True)
    texts = [line.split("\t", 1)[-1].strip() for line in source.read_text(encoding="utf-8").splitlines() if line]
    result = serving.run(Path(export), texts, folder)
    result["model"] = "THUCNews pipeline export" if source.parent == THUCNEWS else "sample model"
    return result


def _preprocess(work: Path, thucnews: bool) -> dict:
    from . import preprocess

    folder = work / "preprocess"
    folder.mkdir(parents=True, exist_ok=True)
    if thucnews:
        source, times = THUCNEWS / "train_first45k.tsv", 4
    else:
        source, times = ROOT / "examples" / "sample" / "train.tsv", 400
    result = preprocess.run(repeat_lines(source, times, folder / "train.tsv"), folder)
    result["input"] = f"{source.name} x {times}"
    return result


def _growth(work: Path, epoch_lines: int) -> dict:
    from . import growth

    return growth.run(work / "growth", epoch_lines=epoch_lines)


def _large(work: Path, thucnews: bool) -> dict:
    from . import large

    return large.run(work / "large", thucnews=thucnews)


if __name__ == "__main__":
    sys.exit(main())
