"""What every benchmark section shares: where the data is, timing loops, child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("TEXTCNN_SHARED", ROOT.parent / "shared")) / "data"
THUCNEWS = SHARED / "thucnews"
TENCENT_VECTORS = SHARED / "vectors" / "tencent_ailab.200d.thucnews-chars.txt"
TARGET_ACCURACY = 0.8775  # the core issue's THUCNews target, what the PyTorch reference reaches
BIN = Path(sys.executable).parent


def have_thucnews() -> bool:
    return (THUCNEWS / "train_first45k.tsv").exists() and TENCENT_VECTORS.exists()


def cores() -> int:
    return len(os.sched_getaffinity(0))


@dataclass
class Rate:
    seconds_per_step: float
    steps: int
    spread: float = 0.0  # (slowest - fastest) / median round, where there were rounds

    def per_second(self, items_per_step: int) -> float:
        return items_per_step / self.seconds_per_step


def take_turns(steps: dict, *, rounds: int = 7, steps_per_round: int = 6) -> dict[object, Rate]:
    """Median seconds per call of each step(i) (i counts calls), the steps taking turns for a few
    calls each, round after round, so that the machine's slow and fast spells reach all of them.
    Each must already be warmed up (traced, compiled) and must block until its work is done."""
    import statistics

    times: dict = {name: [] for name in steps}
    calls = 0
    for _ in range(rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            for _ in range(steps_per_round):
                step(calls)
                calls += 1
            times[name].append((time.perf_counter() - started) / steps_per_round)
    out = {}
    for name, t in times.items():
        median = statistics.median(t)
        out[name] = Rate(median, rounds * steps_per_round, round((max(t) - min(t)) / median, 3))
    return out


def time_steps(step, batches: list, *, warmup: int = 3, min_steps: int = 5, max_steps: int = 40,
               max_seconds: float = 20.0) -> Rate:
    """Steady-state seconds per call of step(*batch): warm-up calls first, then as many timed calls
    as fit in max_seconds (at least min_steps). step must block until its work is done."""
    for i in range(warmup):
        step(*batches[i % len(batches)])
    started, n = time.perf_counter(), 0
    while n < max_steps and (n < min_steps or time.perf_counter() - started < max_seconds):
        step(*batches[n % len(batches)])
        n += 1
    return Rate((time.perf_counter() - started) / n, n)


# Runs argv[2:] and writes its peak RSS (KiB) to argv[1]. Linux counts in a child's ru_maxrss the
# memory of the process it was forked from, so a small launcher forks the measured command
# instead of this (large) benchmark process.
_LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str], *, cpus: set[int] | None = None, env: dict | None = None,
                 cwd: Path | None = None) -> dict:
    """Run a command; its wall time and its own peak RSS (from wait4, not a sampling guess).

    cpus pins the command (and everything it starts) to those cores."""
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as maxrss:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER, maxrss.name, *map(str, cmd)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                              env={**os.environ, **(env or {})},
                              preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        seconds = time.perf_counter() - started
        if proc.returncode:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
        return {"seconds": seconds, "peak_rss_mb": int(maxrss.read()) / 1024, "output": proc.stdout}


def textcnn(*args, **kw) -> dict:
    return run_measured([str(BIN / "textcnn"), *map(str, args), "--quiet"], **kw)


def repeat_lines(source: Path, times: int, out: Path) -> Path:
    data = source.read_bytes()
    if not data.endswith(b"\n"):
        data += b"\n"
    out.write_bytes(data * times)
    return out


def random_batches(vocab_size: int, num_classes: int, seq_len: int, batch_size: int, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(2, vocab_size, (batch_size, seq_len), dtype=np.int32),
             rng.integers(0, num_classes, batch_size, dtype=np.int32)) for _ in range(n)]


def synthetic_lines(path: Path, lines: int, seed: int = 0) -> Path:
    """Labelled lines of 10-30 random characters out of 3,000 common CJK ones (a bounded vocabulary),
    for measurements where ../shared/data is absent."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, 31, lines)
    chars = (0x4E00 + rng.integers(0, 3000, lengths.sum())).astype(np.uint32)
    text = chars.tobytes().decode("utf-32-le")
    ends = np.cumsum(lengths)
    labels = rng.integers(0, 10, lines)
    with path.open("w", encoding="utf-8") as f:
        for label, start, end in zip(labels, ends - lengths, ends):
            f.write(f"c{label}\t{text[start:end]}\n")
    return path


def lines_of(source: Path, lines: int, out: Path) -> Path:
    """The first `lines` lines of source repeated as often as needed."""
    data = source.read_bytes().splitlines(keepends=True)
    with out.open("wb") as f:
        whole, rest = divmod(lines, len(data))
        for _ in range(whole):
            f.writelines(data)
        f.writelines(data[:rest])
    return out
