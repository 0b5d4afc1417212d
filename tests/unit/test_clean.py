import json

import pyarrow.parquet as pq
import pytest

from textcnn import clean
from textcnn.config import CleanConfig
from textcnn.errors import TextcnnError

GOOD = "体育\t国足客场击败对手\n财经\t央行宣布下调利率\n体育\t女排夺得世界冠军\n财经\t股市今日全线上涨\n"
DEV = "体育\t篮球联赛今晚开幕\n财经\t基金净值小幅上涨\n"


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def run(tmp_path, train, dev=DEV, test=None, **kw):
    kw.setdefault("max_reject_ratio", 1.0)
    cfg = CleanConfig(train=write(tmp_path, "train.in", train), dev=write(tmp_path, "dev.in", dev) if dev else None,
                      test=write(tmp_path, "test.in", test) if test else None, out=str(tmp_path / "out"),
                      quiet=True, **kw)
    return clean.run(cfg)


def rejects(tmp_path):
    lines = (tmp_path / "out" / "rejects.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "file\tline\treason\tcontent"
    return [line.split("\t", 3) for line in lines[1:]]


@pytest.mark.parametrize("bad, reason, kw", [
    (b"\xe4\xbd\x93\xff\t\xe5\x9b\xbd\n", "invalid_utf8", {}),
    (b"   \n", "empty_line", {}),
    ("体育 国足击败对手\n", "no_tab", {}),
    ("\t国足击败对手\n", "empty_label", {}),
    ("体育\t  \u3000 \n", "empty_text", {}),
    ("体育\t\u200b\x00\n", "empty_text", {}),
    ("体育\t" + "长" * 50 + "\n", "too_long", {"max_chars": 40}),
    ("体育\t的 了\n", "no_tokens", {"stopwords": None}),
    ("体育\t国足客场击败对手\n", "duplicate", {"dedupe": True}),
])
def test_each_reject_reason_in_label_tab_text(tmp_path, bad, reason, kw):
    if "stopwords" in kw:
        kw["stopwords"] = write(tmp_path, "stop.txt", "的\n了\n")
    bad = bad if isinstance(bad, bytes) else bad.encode()
    report = run(tmp_path, GOOD.encode() + bad + GOOD.encode()[:0] + "体育\t篮球联赛开幕\n".encode(), **kw)
    (row,) = rejects(tmp_path)
    assert row[1:3] == ["5", reason]
    assert row[0].endswith("train.in")
    f = report["files"]["train"]
    assert (f["input_lines"], f["accepted"], f["rejected"]) == (6, 5, 1)
    assert f["rejected_by_reason"] == {reason: 1}


CSV_GOOD = "label,text\n体育,国足击败对手\n"
JSONL_GOOD = '{"label": "体育", "text": "国足击败对手"}\n'


@pytest.mark.parametrize("fmt, bad, reason", [
    ("csv", "财经,a,b\n", "wrong_field_count"),
    ("csv", b"\xe4\xbd\x93\xe8\x82\xb2,\xff\xfe\n", "invalid_utf8"),
    ("csv", "体育," + "x" * 140_000 + "\n", "bad_record"),  # over the csv module's field limit
    ("jsonl", '{"label": "体育", "text": "unterminated\n', "bad_json"),
    ("jsonl", '{"label": "体育"}\n', "missing_field"),
    ("jsonl", '[1, 2]\n', "missing_field"),
    ("jsonl", '{"label": ["体育"], "text": "国足"}\n', "bad_field_type"),
    ("jsonl", '{"label": "体育", "text": 3}\n', "bad_field_type"),
])
def test_reject_reasons_of_csv_and_jsonl(tmp_path, fmt, bad, reason):
    good = CSV_GOOD if fmt == "csv" else JSONL_GOOD
    header, body = good.split("\n", 1) if fmt == "csv" else ("", good)
    head = (header + "\n").encode() if header else b""
    bad = bad if isinstance(bad, bytes) else bad.encode()
    report = run(tmp_path, head + bad + body.encode(), dev=good, format=fmt)
    (row,) = rejects(tmp_path)
    assert row[1:3] == ["2" if fmt == "csv" else "1", reason]
    assert report["files"]["train"]["input_lines"] == 2


def test_unknown_dev_and_test_labels_are_rejected(tmp_path):
    report = run(tmp_path, GOOD, dev=DEV + "娱乐\t电影票房破纪录\n", test=GOOD + "科技\t新手机发布\n")
    assert sorted((r[0].rsplit("/", 1)[1], r[1], r[2]) for r in rejects(tmp_path)) == \
        [("dev.in", "3", "unknown_label"), ("test.in", "5", "unknown_label")]
    assert report["labels"] == ["体育", "财经"]


def test_bom_crlf_and_text_tabs_are_accepted(tmp_path):
    report = run(tmp_path, "\ufeff体育\t国足\t客场击败对手\r\n财经\t央行降息\r\n")
    assert report["total"]["rejected"] == 0
    table = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    assert table[0]["label"] == "体育" and table[0]["text"] == "国足 客场击败对手"
    assert table[0]["tokens"] == list("国足客场击败对手") and table[0]["line"] == 1


def test_csv_with_quoted_newlines_and_named_columns(tmp_path):
    content = 'id,body,category\n1,"国足客场\n击败对手",体育\n2,"央行降息,股市上涨",财经\n'
    report = run(tmp_path, content, dev="body,category\n篮球,体育\n", format="csv", text_col="body",
                 label_col="category")
    assert report["files"]["train"] == {"path": str(tmp_path / "train.in"), "input_lines": 2, "accepted": 2,
                                        "rejected": 0, "rejected_by_reason": {}}
    rows = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    assert [(r["line"], r["label"], r["text"]) for r in rows] == \
        [(2, "体育", "国足客场 击败对手"), (4, "财经", "央行降息,股市上涨")]


def test_tsv_with_header_and_jsonl_numeric_labels(tmp_path):
    run(tmp_path, "text\tlabel\n好评如潮\t1\n差评\t0\n", dev="text\tlabel\n不错\t1\n", text_col="text")
    assert pq.read_table(tmp_path / "out" / "train.parquet")["label"].to_pylist() == ["1", "0"]
    run(tmp_path, '{"text": "好评", "label": 1}\n{"text": "差评", "label": 0}\n',
        dev='{"text": "不错", "label": 1}\n', format="jsonl")
    assert pq.read_table(tmp_path / "out" / "train.parquet")["label"].to_pylist() == ["1", "0"]


def test_stratified_dev_split_is_seeded_and_keeps_proportions(tmp_path):
    lines = "".join(f"{lab}\t{lab}新闻第{i}条\n" for lab, n in (("甲", 50), ("乙", 30), ("丙", 20))
                    for i in range(n))
    report = run(tmp_path, lines, dev=None, dev_ratio=0.2, seed=7)
    assert report["splits"]["dev"]["labels"] == {"丙": 4, "乙": 6, "甲": 10}
    assert report["splits"]["train"]["labels"] == {"丙": 16, "乙": 24, "甲": 40}
    first = pq.read_table(tmp_path / "out" / "dev.parquet")["line"].to_pylist()
    run(tmp_path, lines, dev=None, dev_ratio=0.2, seed=7)
    assert pq.read_table(tmp_path / "out" / "dev.parquet")["line"].to_pylist() == first
    run(tmp_path, lines, dev=None, dev_ratio=0.2, seed=8)
    assert pq.read_table(tmp_path / "out" / "dev.parquet")["line"].to_pylist() != first


def test_dedupe_drops_repeats_and_train_overlap(tmp_path):
    train = GOOD + "体育\t国足客场击败对手\n"
    dev = "体育\t国足客场击败对手\n财经\t基金发行回暖\n财经\t基金发行回暖\n"
    report = run(tmp_path, train, dev=dev, dedupe=True)
    assert report["files"]["train"]["rejected_by_reason"] == {"duplicate": 1}
    assert report["files"]["dev"]["rejected_by_reason"] == {"duplicate": 2}
    assert report["splits"]["dev"]["examples"] == 1


def test_accounting_and_report(tmp_path):
    train = GOOD + "no tab here\n\n体育\t\n" + GOOD
    report = run(tmp_path, train, test=GOOD)
    for f in report["files"].values():
        assert f["input_lines"] == f["accepted"] + f["rejected"]
    assert report["total"] == {"input_lines": 17, "accepted": 14, "rejected": 3}
    assert report["rejected_by_reason"] == {"empty_line": 1, "empty_text": 1, "no_tab": 1}
    tokens = report["splits"]["train"]["tokens_per_text"]
    assert tokens["max"] == 8 and tokens["p50"] == 8.0
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == json.loads(json.dumps(report))
    manifest = json.loads((tmp_path / "out" / "textcnn.json").read_text())
    assert manifest["step"] == "clean" and manifest["preprocessing"]["tokenizer"] == "char"


def test_stopwords_and_lowercase_apply_to_tokens(tmp_path):
    stop = write(tmp_path, "stop.txt", "的\nＡ\n")
    run(tmp_path, "体育\t中国的A队和a队\n财经\t股市\n", stopwords=stop, lowercase=True)
    rows = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    assert rows[0]["tokens"] == ["中", "国", "队", "和", "队"]
    assert (tmp_path / "out" / "stopwords.txt").read_text(encoding="utf-8") == "的\na\n"


# --- whole-step failures: a one-line error, and no manifest (so no later step takes the folder) ---

def fails(tmp_path, match, **kw):
    with pytest.raises(TextcnnError, match=match) as e:
        run(tmp_path, **kw)
    assert not (tmp_path / "out" / "textcnn.json").exists()
    assert "\n" not in str(e.value)
    return e.value


def test_missing_file(tmp_path):
    with pytest.raises(TextcnnError, match="file not found"):
        clean.run(CleanConfig(train=str(tmp_path / "nope.tsv"), out=str(tmp_path / "out")))


def test_empty_file(tmp_path):
    fails(tmp_path, "file is empty", train="")


def test_wrong_csv_columns(tmp_path):
    e = fails(tmp_path, "no column 'text' in the header", train="label,body\n体育,国足\n", format="csv")
    assert e.line == 1 and "--text-col" in e.fix


def test_too_many_rejects(tmp_path):
    e = fails(tmp_path, r"2 of 6 lines rejected \(33.3%, mostly no_tab", train=GOOD + "x\ny\n",
              max_reject_ratio=0.01)
    assert "rejects.tsv" in e.fix and e.file.endswith("train.in")
    assert len(rejects(tmp_path)) == 2  # the rejects are written even when the step fails


def test_every_line_rejected_is_an_empty_split(tmp_path):
    fails(tmp_path, "the test split is empty", train=GOOD, test="娱乐\t电影\n")


def test_dev_split_too_small(tmp_path):
    fails(tmp_path, "the dev split is empty", train="体育\t国足\n财经\t股市\n", dev=None)


def test_stopwords_in_gbk(tmp_path):
    stop = write(tmp_path, "stop.txt", "的\n了\n".encode("gbk"))
    e = fails(tmp_path, "stopword file is not UTF-8", train=GOOD, stopwords=stop)
    assert "iconv -f GBK" in e.fix


def test_user_dict_needs_jieba(tmp_path):
    fails(tmp_path, "--user-dict only applies to --tokenizer jieba", train=GOOD,
          user_dict=write(tmp_path, "d.txt", "大模型 5 n\n"))


def test_stopword_file_without_words(tmp_path):
    fails(tmp_path, "the stopword file lists no words", train=GOOD, stopwords=write(tmp_path, "stop.txt", " \n\n"))


@pytest.mark.parametrize("tokenizer", ["char", "jieba"])
def test_the_process_pool_writes_what_one_process_writes(tmp_path, monkeypatch, tokenizer):
    # Rejects spread over many small chunks, so order and accounting across workers are checked too.
    lines = "".join(f"体育\t第{i}届人工智能大会在北京开幕\n" if i % 7 else f"坏行{i}\n" for i in range(600))
    outputs = {}
    for workers in (1, 2):
        monkeypatch.setattr(clean, "PARALLEL_MIN_BYTES", 1)
        monkeypatch.setattr(clean, "PARALLEL_CHUNK_RECORDS", 37)
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        report = run(folder, lines + GOOD, tokenizer=tokenizer, workers=workers)
        report = {k: v for k, v in report.items() if k != "config"}
        outputs[workers] = (pq.read_table(folder / "out" / "train.parquet"),
                            (folder / "out" / "rejects.tsv").read_text().replace(str(folder), ""),
                            json.dumps(report, ensure_ascii=False).replace(str(folder), ""))
    assert outputs[2][0].equals(outputs[1][0])
    assert outputs[2][1] == outputs[1][1] and outputs[1][1].count("no_tab") == 86
    assert outputs[2][2] == outputs[1][2]
