"""Read labelled text files (label<TAB>text, CSV/TSV with a header, JSONL) as records or rejects.

Readers never raise on a bad line: they yield it as a reject with its reason, so that every
input line ends up either accepted or in rejects.tsv. Whole-file problems (missing, empty,
wrong columns) raise TextcnnError.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import TextcnnError

BOM = b"\xef\xbb\xbf"
CHUNK_RECORDS = 25_000  # memory is bounded by this many records (and one 10 MB line)


@dataclass
class Chunk:
    """Records of one file read so far: parallel lists of line numbers, labels and texts."""
    lines: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, content)

    def __len__(self) -> int:
        return len(self.lines) + len(self.rejects)


def check_file(path: Path) -> None:
    if not path.exists():
        raise TextcnnError("file not found", "check the path", file=path)
    if not path.is_file():
        raise TextcnnError("not a file", "pass a file, not a folder", file=path)
    if path.stat().st_size == 0:
        raise TextcnnError("file is empty", "pass a file with labelled lines", file=path)


def read_records(path: Path, fmt: str, text_col: str | None, label_col: str | None,
                 chunk_records: int = CHUNK_RECORDS) -> Iterator[Chunk]:
    """Yield the file's records and rejects in chunks of about chunk_records lines."""
    check_file(path)
    if fmt == "jsonl":
        rows = _jsonl_rows(path, text_col or "text", label_col or "label")
    elif fmt == "csv" or text_col or label_col:
        rows = _table_rows(path, "," if fmt == "csv" else "\t", text_col or "text", label_col or "label")
    else:
        rows = _label_tab_text_rows(path)
    return _chunked(rows, chunk_records)


def shown(raw: bytes | str) -> str:
    """A reject's content for rejects.tsv: one line, invalid bytes as \\xNN, at most 10,000 chars."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="backslashreplace")
    raw = raw.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    return raw if len(raw) <= 10_000 else raw[:10_000] + "…"


# The row generators below yield (line, label, text, None) for a record and
# (line, None, content, reason) for a reject.

def _chunked(rows, chunk_records: int) -> Iterator[Chunk]:
    chunk = Chunk()
    for line, label, text, reason in rows:
        if reason:
            chunk.rejects.append((line, reason, text))
        else:
            chunk.lines.append(line)
            chunk.labels.append(label)
            chunk.texts.append(text)
        if len(chunk) >= chunk_records:
            yield chunk
            chunk = Chunk()
    yield chunk


def _text_lines(path: Path):
    """Yield (number, rejection or None, decoded line) for each physical line; BOM, CR and LF stripped."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            raw = raw.rstrip(b"\n").removesuffix(b"\r")
            if number == 1:
                raw = raw.removeprefix(BOM)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, (number, None, shown(raw), "invalid_utf8"), ""
                continue
            if not text.strip():
                yield number, (number, None, shown(text), "empty_line"), text
            else:
                yield number, None, text


def _label_tab_text_rows(path: Path):
    for number, reject, text in _text_lines(path):
        if reject:
            yield reject
        elif "\t" not in text:
            yield number, None, shown(text), "no_tab"
        else:
            label, _, body = text.partition("\t")
            yield number, label, body, None


def _jsonl_rows(path: Path, text_key: str, label_key: str):
    for number, reject, line in _text_lines(path):
        if reject:
            yield reject
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            yield number, None, shown(line), "bad_json"
            continue
        if not isinstance(obj, dict) or text_key not in obj or label_key not in obj:
            yield number, None, shown(line), "missing_field"
        elif not isinstance(obj[text_key], str) or not _scalar_label(obj[label_key]):
            yield number, None, shown(line), "bad_field_type"
        else:
            label = obj[label_key]
            yield number, label if isinstance(label, str) else json.dumps(label), obj[text_key], None


def _scalar_label(value: object) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _table_rows(path: Path, delimiter: str, text_col: str, label_col: str):
    # surrogateescape keeps invalid bytes visible per field, so one bad line is one reject.
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        # strict: a malformed quote (one never closed, text after a closing one) is a reject, not a
        # record silently glued together from what follows.
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except csv.Error as e:
            raise TextcnnError(f"unreadable header ({e})", "check the --format", file=path, line=1) from None
        missing = [c for c in (text_col, label_col) if c not in header]
        if missing:
            raise TextcnnError(
                f"no column {missing[0]!r} in the header (columns: {', '.join(header) or 'none'})",
                "name the columns with --text-col and --label-col, or check --format", file=path, line=1)
        ti, li = header.index(text_col), header.index(label_col)
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield start, None, shown(str(e)), "bad_record"
            else:
                if row == []:
                    yield start, None, "", "empty_line"
                elif len(row) != len(header):
                    yield start, None, shown(delimiter.join(row)), "wrong_field_count"
                elif _has_surrogates(row[ti]) or _has_surrogates(row[li]):
                    content = delimiter.join(row).encode("utf-8", errors="surrogateescape")
                    yield start, None, shown(content), "invalid_utf8"
                else:
                    yield start, row[li], row[ti], None
            start = reader.line_num + 1


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def read_word_list(path: str, what: str) -> list[str]:
    """A UTF-8 file of one entry a line (stopwords); blank lines skipped."""
    p = Path(path)
    check_file(p)
    data = p.read_bytes().removeprefix(BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TextcnnError(f"{what} file is not UTF-8 (byte {data[e.start]:#04x})",
                           f"convert it, e.g. `iconv -f GBK -t UTF-8 {p} > {p.stem}.utf8{p.suffix}`",
                           file=p, line=line) from None
    return [w.strip() for w in text.splitlines() if w.strip()]
