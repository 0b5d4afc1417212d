"""Step output folders: atomic file writes and the manifest that names the step that wrote them.

Every step writes its files first and `textcnn.json` last, so a folder with a manifest is
complete; a folder without one is unfinished or not a step output, and readers refuse it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from .errors import TextcnnError

MANIFEST = "textcnn.json"
# Bumped whenever a step's files change incompatibly; readers refuse other formats.
FORMAT_VERSION = 1


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds.

    The temporary name ends with the same extensions (`.keras`, `.weights.h5`, ...), for writers
    that insist on them.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes), dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder of `path`; rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TextcnnError("file not found", "rerun the step that writes it", file=path) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise TextcnnError(f"not valid JSON ({e})", "rerun the step that writes it", file=path) from None


def prepare_out(out: str | os.PathLike) -> Path:
    """Create the output folder and drop any previous manifest, so a failed rerun leaves it unfinished."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TextcnnError("exists and is not a folder", "pass a folder for --out", file=out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    return out


def write_manifest(out: Path, step: str, **details: Any) -> None:
    write_json(out / MANIFEST, {
        "step": step,
        "format": FORMAT_VERSION,
        "textcnn_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **details,
    })


def read_manifest(folder: str | os.PathLike, step: str, option: str) -> dict:
    """Check that `folder` is a complete output of `textcnn <step>` in our format; return its manifest."""
    folder = Path(folder)
    fix = f"pass the --out folder of `textcnn {step}` as {option}"
    if not folder.is_dir():
        raise TextcnnError("no such folder", fix, file=folder)
    manifest = folder / MANIFEST
    if not manifest.exists():
        raise TextcnnError(f"not a finished output of `textcnn {step}` (no {MANIFEST})", fix, file=folder)
    meta = read_json(manifest)
    if not isinstance(meta, dict) or meta.get("step") != step:
        other = meta.get("step") if isinstance(meta, dict) else None
        raise TextcnnError(f"is the output of `textcnn {other}`, not of `textcnn {step}`", fix, file=folder)
    if meta.get("format") != FORMAT_VERSION:
        raise TextcnnError(
            f"written by textcnn {meta.get('textcnn_version')} in format {meta.get('format')}; "
            f"this textcnn {__version__} reads format {FORMAT_VERSION}",
            f"rerun `textcnn {step}` with this version", file=folder)
    return meta
