"""jieba word segmentation (clean parallelises it over chunks in a process pool: textcnn.clean)."""

from __future__ import annotations

import logging

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


def segment(texts: list[str]) -> list[list[str]]:
    """Segment texts into words with jieba, in order, without whitespace tokens."""
    import jieba

    configure(_user_dict)
    return [[w for w in jieba.lcut(t) if not w.isspace()] for t in texts]
