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
CHUNK_RECORDS = 100_000


@dataclass
class Chunk:
    """Records of one file read so far: parallel lists of line numbers, labels and texts."""
    lines: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, content)

    def add(self, line: int, label: str, text: str) -> None:
        self.lines.append(line)
        self.labels.append(label)
        self.texts.append(text)

    def __len__(self) -> int:
        return len(self.lines) + len(self.rejects)


def check_file(path: Path) -> None:
    if not path.exists():
        raise TextcnnError("file not found", "check the path", file=path)
    if not path.is_file():
        raise TextcnnError("not a file", "pass a file, not a folder", file=path)
    if path.stat().st_size == 0:
        raise TextcnnError("file is empty", "pass a file with labelled lines", file=path)


def read_records(path: Path, fmt: str, text_col: str | None, label_col: str | None) -> Iterator[Chunk]:
    """Yield the file's records and rejects in chunks of about CHUNK_RECORDS lines."""
    check_file(path)
    if fmt == "jsonl":
        return _read_jsonl(path, text_col or "text", label_col or "label")
    if fmt == "csv" or text_col or label_col:
        return _read_table(path, "," if fmt == "csv" else "\t", text_col or "text", label_col or "label")
    return _read_label_tab_text(path)


def _decode(raw: bytes, line: int) -> str | None:
    if line == 1 and raw.startswith(BOM):
        raw = raw[len(BOM):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def shown(raw: bytes | str) -> str:
    """A reject's content for rejects.tsv: one line, invalid bytes as \\xNN, at most 10,000 chars."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="backslashreplace")
    raw = raw.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    return raw if len(raw) <= 10_000 else raw[:10_000] + "…"


def _read_label_tab_text(path: Path) -> Iterator[Chunk]:
    chunk = Chunk()
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            raw = raw.rstrip(b"\n").removesuffix(b"\r")
            text = _decode(raw, number)
            if text is None:
                chunk.rejects.append((number, "invalid_utf8", shown(raw)))
            elif not text.strip():
                chunk.rejects.append((number, "empty_line", shown(text)))
            elif "\t" not in text:
                chunk.rejects.append((number, "no_tab", shown(text)))
            else:
                label, _, body = text.partition("\t")
                chunk.add(number, label, body)
            if len(chunk) >= CHUNK_RECORDS:
                yield chunk
                chunk = Chunk()
    yield chunk


def _read_table(path: Path, delimiter: str, text_col: str, label_col: str) -> Iterator[Chunk]:
    # surrogateescape keeps invalid bytes visible per field, so one bad line is one reject.
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader)
        except csv.Error as e:
            raise TextcnnError(f"unreadable header ({e})", "check the --format", file=path, line=1) from None
        header = [h.strip() for h in header]
        missing = [c for c in (text_col, label_col) if c not in header]
        if missing:
            raise TextcnnError(
                f"no column {missing[0]!r} in the header (columns: {', '.join(header) or 'none'})",
                "name the columns with --text-col and --label-col, or check --format", file=path, line=1)
        ti, li = header.index(text_col), header.index(label_col)
        chunk = Chunk()
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                chunk.rejects.append((start, "bad_record", shown(str(e))))
                start = reader.line_num + 1
                continue
            if row == []:
                chunk.rejects.append((start, "empty_line", ""))
            elif len(row) != len(header):
                chunk.rejects.append((start, "wrong_field_count", shown(delimiter.join(row))))
            elif any(_has_surrogates(v) for v in (row[ti], row[li])):
                content = delimiter.join(row).encode("utf-8", errors="surrogateescape")
                chunk.rejects.append((start, "invalid_utf8", shown(content)))
            else:
                chunk.add(start, row[li], row[ti])
            start = reader.line_num + 1
            if len(chunk) >= CHUNK_RECORDS:
                yield chunk
                chunk = Chunk()
        yield chunk


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _read_jsonl(path: Path, text_key: str, label_key: str) -> Iterator[Chunk]:
    chunk = Chunk()
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            raw = raw.rstrip(b"\n").removesuffix(b"\r")
            line = _decode(raw, number)
            if line is None:
                chunk.rejects.append((number, "invalid_utf8", shown(raw)))
            elif not line.strip():
                chunk.rejects.append((number, "empty_line", shown(line)))
            else:
                reason = None
                try:
                    obj = json.loads(line)
                except ValueError:
                    reason = "bad_json"
                else:
                    if not isinstance(obj, dict) or text_key not in obj or label_key not in obj:
                        reason = "missing_field"
                    elif not isinstance(obj[text_key], str) or not _scalar_label(obj[label_key]):
                        reason = "bad_field_type"
                if reason:
                    chunk.rejects.append((number, reason, shown(line)))
                else:
                    label = obj[label_key]
                    chunk.add(number, label if isinstance(label, str) else json.dumps(label), obj[text_key])
            if len(chunk) >= CHUNK_RECORDS:
                yield chunk
                chunk = Chunk()
    yield chunk


def _scalar_label(value: object) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


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
