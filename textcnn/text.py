"""Text normalisation and tokenisation, defined once for cleaning, prediction and serving.

Normalisation works character by character through one table (`char_table`): NFKC of the
character (full-width forms to half-width, compatibility ideographs to unified ones, ...),
optional lower-casing, every kind of whitespace to a space, control and format characters
(NUL, zero-width space, BOM, ...) deleted; then runs of spaces collapse to one and the ends
are trimmed. The exported SavedModel applies the same table inside the graph, so training
and serving see identical tokens. (Per-character NFKC differs from whole-string NFKC only
where a base letter is followed by a combining mark, which is not composed.)
"""

from __future__ import annotations

import functools
import os
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOKENIZERS = ("char", "jieba", "whitespace")
# Planes holding every character whose NFKC form differs from itself or that is a format
# character (BMP, SMP, SIP, tags in plane 14); other planes map to themselves.
_RANGES = (range(0x0000, 0x30000), range(0xE0000, 0xE1000))


@functools.cache
def char_table(lowercase: bool) -> dict[int, str]:
    """Map each code point that normalisation changes to its replacement (str.translate table)."""
    def one(c: str) -> str:
        cat = unicodedata.category(c)
        if c.isspace() or cat in ("Zs", "Zl", "Zp"):
            return " "
        if cat in ("Cc", "Cf", "Cs"):
            return ""
        out = unicodedata.normalize("NFKC", c)
        return out.lower() if lowercase else out

    table = {}
    for r in _RANGES:
        for cp in r:
            c = chr(cp)
            if unicodedata.category(c) == "Cn":
                continue
            out = one(c)
            if out != c:
                table[cp] = out
    # Make the table idempotent: a replacement may itself contain characters that map further.
    for cp, out in table.items():
        while True:
            again = "".join(one(ch) if ord(ch) in table else ch for ch in out)
            if again == out:
                break
            out = again
        table[cp] = out
    return table


def normalize(texts: list[str], lowercase: bool = False) -> pa.Array:
    """Normalise a batch of texts (see the module docstring)."""
    table = char_table(lowercase)
    arr = pa.array([t.translate(table) for t in texts], pa.string())
    return pc.utf8_trim(pc.replace_substring_regex(arr, " {2,}", " "), " ")


def tokenize(texts: pa.Array, tokenizer: str) -> pa.ListArray:
    """Split normalised texts into tokens (list<string>, no empty tokens, no spaces inside)."""
    if tokenizer == "char":
        spaced = pc.replace_substring_regex(pc.replace_substring(texts, " ", ""), "(.)", r"\1 ")
        tokens = pc.split_pattern(pc.utf8_rtrim(spaced, " "), " ")
    elif tokenizer == "whitespace":
        tokens = pc.split_pattern(texts, " ")
    elif tokenizer == "jieba":
        from .segment import segment
        tokens = pa.array(segment(texts.to_pylist()), pa.list_(pa.string()))
    else:
        raise ValueError(f"unknown tokenizer {tokenizer!r}")
    return drop_tokens(tokens, pa.array([""], pa.string()))


def drop_tokens(tokens: pa.ListArray, drop: pa.Array) -> pa.ListArray:
    """Remove every token found in `drop` from each list, vectorised over the flat values."""
    values = pc.list_flatten(tokens)
    keep = pc.invert(pc.is_in(values, value_set=drop))
    if pc.all(keep).as_py() is not False:
        return tokens
    parents = pc.list_parent_indices(tokens).to_numpy()[keep.to_numpy(zero_copy_only=False)]
    counts = np.bincount(parents, minlength=len(tokens))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values.filter(keep))


def preprocess(texts: list[str], tokenizer: str, lowercase: bool = False,
               stopwords: pa.Array | None = None) -> tuple[pa.Array, pa.ListArray]:
    """Normalise and tokenise raw texts; return (normalised texts, tokens)."""
    normalised = normalize(texts, lowercase)
    tokens = tokenize(normalised, tokenizer)
    if stopwords is not None and len(stopwords):
        tokens = drop_tokens(tokens, stopwords)
    return normalised, tokens


def usable_cores() -> int:
    """Cores this process may run on (taskset and container CPU sets shrink it below cpu_count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
