"""The benchmark's own arithmetic and tools (the benchmark itself runs with `make bench`)."""

import subprocess
import sys

import numpy as np
import pytest

from bench import report
from bench.common import run_measured
from bench.training import REFERENCE, flops_per_example

torch = pytest.importorskip("torch", reason="torch is in the test and bench extras")


def test_pytorch_baseline_is_the_same_architecture():
    from bench.torch_textcnn import TorchTextCNN
    from textcnn.model import build_textcnn

    keras_model = build_textcnn(vocab_size=1000, num_classes=10, seq_len=32, embedding_dim=300,
                                filter_sizes=(2, 3, 4), num_filters=256, variant="rand")
    torch_model = TorchTextCNN(1000, 10, 300, (2, 3, 4), 256)
    assert sum(p.numel() for p in torch_model.parameters()) == keras_model.count_params()


def test_flops_formula_agrees_with_pytorch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    from bench.torch_textcnn import TorchTextCNN

    model = TorchTextCNN(1000, 10, REFERENCE["embedding_dim"], REFERENCE["filter_sizes"], REFERENCE["num_filters"])
    with FlopCounterMode(display=False) as counter:
        model(torch.randint(0, 1000, (4, REFERENCE["seq_len"])))
    ours = flops_per_example(REFERENCE["seq_len"], REFERENCE["embedding_dim"], REFERENCE["filter_sizes"],
                             REFERENCE["num_filters"], 10)
    assert ours / 3 == pytest.approx(counter.get_total_flops() / 4, rel=1e-6)


def test_peak_memory_is_the_childs_own():
    small = run_measured([sys.executable, "-c", "pass"])
    big = run_measured([sys.executable, "-c", "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())"])
    assert big["peak_rss_mb"] - small["peak_rss_mb"] > 250
    assert "39321600" in big["output"]
    with pytest.raises(RuntimeError, match="failed"):
        run_measured([sys.executable, "-c", "raise SystemExit(3)"])


def test_targets_compare_measurements_with_the_goals():
    r = {"training": {"ours": [
            {"precision": "float32", "xla": False, "examples_per_second": 900.0, "vs_pytorch": 2.6, "peak_fraction": 0.5},
            {"precision": "mixed_bfloat16", "xla": True, "examples_per_second": 1200.0, "vs_pytorch": 3.4,
             "peak_fraction": 0.1}]},
         "gemm": {"float32": {"peak_gflops": 200.0}},
         "serving": {"batch256_texts_per_second": 6000.0, "batch1_p50_ms": 1.0, "batch1_p99_ms": 12.0}}
    met = {name: ok for name, _, _, ok in report.targets(r)}
    assert met["float32 training vs PyTorch"] is True
    assert met["float32 training, fraction of float32 GEMM peak"] is False
    assert met["fastest precision vs PyTorch"] is False
    assert met["serving, batch 256"] is True and met["serving latency, batch 1"] is False


def test_gpu_script_parses():
    subprocess.run(["bash", "-n", "bench/gpu.sh"], check=True)
