"""Hostile input through the `textcnn` CLI: every case of tests/data/bad/cases.yaml ends in one clear
error line (exit 2) or in reported rejects with the accounting intact, never in a traceback; and
random bytes and random TSV (hypothesis) do the same."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from textcnn import clean
from textcnn.cli import main
from textcnn.config import CleanConfig
from textcnn.errors import TextcnnError

BAD = ROOT / "tests" / "data" / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text(encoding="utf-8"))
DEV = {"csv": "good_dev.csv", "jsonl": "good_dev.jsonl"}


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    """The case files, plus the one too large to store: a 10 MB line."""
    folder = tmp_path_factory.mktemp("bad") / "bad"
    shutil.copytree(BAD, folder)
    with (folder / "huge_line.tsv").open("wb") as f:
        f.write((folder / "good_dev.tsv").read_bytes())
        f.write(("体育\t" + "长" * (10 * 2**20 // 3) + "\n").encode())
    return folder


def physical_lines(content: bytes) -> int:
    """Lines as a reader of the file sees them: ended by LF, the last one perhaps not."""
    return content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)


def run(capsys, args: list[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def check_error(code: int, err: str, pattern: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    import re

    assert re.search(pattern, err), err


@pytest.mark.parametrize("name", sorted(CASES["clean"]))
def test_clean_case(bad, tmp_path, capsys, monkeypatch, name):
    case = CASES["clean"][name]
    monkeypatch.chdir(bad)
    args = ["clean", *case["args"], "--out", tmp_path / "out", "--quiet"]
    fmt = args[args.index("--format") + 1] if "--format" in args else "tsv"
    if "--dev" not in args:
        args += ["--dev", DEV.get(fmt, "good_dev.tsv")]
    if "rejects" in case or not case.get("strict"):
        args += ["--max-reject-ratio", "1"]
    code, err = run(capsys, args)
    if "error" in case:
        check_error(code, err, case["error"])
        assert not (tmp_path / "out" / "textcnn.json").exists()  # nothing half-written looks finished
        return
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rejects = list(csv.DictReader((tmp_path / "out" / "rejects.tsv").open(encoding="utf-8"), delimiter="\t",
                                  quoting=csv.QUOTE_NONE))
    assert Counter(r["reason"] for r in rejects) == Counter(case["rejects"])
    assert report["rejected_by_reason"] == case["rejects"]
    for f in report["files"].values():
        assert f["input_lines"] == f["accepted"] + f["rejected"]
        if fmt == "tsv":  # one record a physical line: the count is the file's
            assert f["input_lines"] == physical_lines(Path(f["path"]).read_bytes())


@pytest.fixture(scope="module")
def data(bad, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bad_vocab") / "data"
    clean.run(CleanConfig(train=str(bad / "good_dev.tsv"), dev=str(bad / "good_dev.tsv"), out=str(out), quiet=True))
    return out


@pytest.mark.parametrize("name", sorted(CASES["vocab"]))
def test_vocab_case(bad, data, tmp_path, capsys, monkeypatch, name):
    case = CASES["vocab"][name]
    monkeypatch.chdir(bad)
    code, err = run(capsys, ["vocab", "--data", data, "--out", tmp_path / "vocab", "--min-count", "1", *case["args"]])
    check_error(code, err, case["error"])
    assert not (tmp_path / "vocab" / "textcnn.json").exists()


def clean_or_clear_error(tmp_path: Path, content: bytes, fmt: str) -> None:
    """The property: clean accepts and accounts for every line, or refuses in one clear line."""
    train = tmp_path / f"train.{fmt}"
    train.write_bytes(content)
    out = tmp_path / "out"
    shutil.rmtree(out, ignore_errors=True)
    try:
        report = clean.run(CleanConfig(train=str(train), dev=str(BAD / DEV.get(fmt, "good_dev.tsv")), out=str(out),
                                       format=fmt, max_reject_ratio=1.0, quiet=True))
    except TextcnnError as e:
        assert "\n" not in str(e) and str(e)
        assert not (out / "textcnn.json").exists()
        return
    files = report["files"]
    rejected = sum(1 for _ in (out / "rejects.tsv").open(encoding="utf-8")) - 1
    assert rejected == sum(f["rejected"] for f in files.values())
    for f in files.values():
        assert f["input_lines"] == f["accepted"] + f["rejected"]
    if fmt == "tsv":
        assert files["train"]["input_lines"] == physical_lines(content)


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(content=st.binary(max_size=2000))
def test_random_bytes(tmp_path, content):
    clean_or_clear_error(tmp_path, content, "tsv")


labels = st.sampled_from(["体育", "财经", "", " ", "a\tb", "1", "体 育"])
texts = st.text(st.characters(codec="utf-8"), max_size=40)
rows = st.lists(st.tuples(labels, texts), min_size=1, max_size=30)


@PROPERTY
@given(rows=rows, sep=st.sampled_from(["\t", ",", "\r\n"]))
def test_random_tsv(tmp_path, rows, sep):
    content = "".join(f"{label}{sep}{text}\n" for label, text in rows).encode("utf-8", "surrogatepass")
    clean_or_clear_error(tmp_path, content, "tsv")


@PROPERTY
@given(rows=rows)
def test_random_csv(tmp_path, rows):
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["label", "text"])
    writer.writerows(rows)
    clean_or_clear_error(tmp_path, buffer.getvalue().encode("utf-8", "surrogatepass"), "csv")
