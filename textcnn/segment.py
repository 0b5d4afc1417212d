"""jieba word segmentation, spread over processes for large inputs."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os

# Below this many texts a process pool costs more than it saves.
PARALLEL_MIN_TEXTS = 20_000
_CHUNK = 2_000
_user_dict: str | None = None


def configure(user_dict: str | None) -> None:
    """Load jieba (quietly) and an optional user dictionary in this process."""
    global _user_dict
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    if user_dict and user_dict != _user_dict:
        jieba.load_userdict(user_dict)
    _user_dict = user_dict


def _cut(texts: list[str]) -> list[list[str]]:
    import jieba

    return [[w for w in jieba.lcut(t) if not w.isspace()] for t in texts]


def usable_cores() -> int:
    """Cores this process may run on (taskset and container CPU sets shrink it below cpu_count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def segment(texts: list[str], *, workers: int = 1, progress: bool = False) -> list[list[str]]:
    """Segment texts into words with jieba, in order; all cores when `workers` is 0."""
    configure(_user_dict)
    workers = workers or usable_cores()
    chunks = [texts[i:i + _CHUNK] for i in range(0, len(texts), _CHUNK)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(texts), unit="lines", desc="jieba", leave=False)
    out: list[list[str]] = []
    if workers > 1 and len(texts) >= PARALLEL_MIN_TEXTS and "fork" in mp.get_all_start_methods():
        # fork: the children inherit the loaded dictionary instead of reloading it.
        with mp.get_context("fork").Pool(workers) as pool:
            for part in pool.imap(_cut, chunks):
                out.extend(part)
                bar and bar.update(len(part))
    else:
        for chunk in chunks:
            out.extend(_cut(chunk))
            bar and bar.update(len(chunk))
    bar and bar.close()
    return out
