"""What a pipeline run leaves behind is safe to load: no pickles in any artifact or MLflow store
file, and the exported SavedModel answers in a Python that cannot import textcnn at all."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".cloudpickle"}


def pickled(path: Path) -> bool:
    """A pickle by name, or by its first bytes: protocol 2-5 start with 0x80 and the protocol number."""
    if path.suffix in PICKLE_SUFFIXES:
        return True
    with path.open("rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def test_no_pickles_in_any_artifact_of_a_pipeline_run(store):
    files = [p for p in store["base"].rglob("*") if p.is_file() and p.suffix != ".db"]
    assert len(files) > 50  # task outputs and MLflow artifacts of four runs
    assert [p for p in files if pickled(p)] == []


def test_the_saved_model_needs_no_textcnn_code(store, tmp_path):
    export = next(store["runs"]["weak"]["dir"].glob("export/saved_model/*/saved_model.pb")).parent
    # -S: no .pth files, so the editable install's hook that finds textcnn is not there either;
    # site-packages itself is added back for TensorFlow.
    script = (
        f"import sys; sys.path.append({sysconfig.get_paths()['purelib']!r})\n"
        "import importlib.util, tensorflow as tf\n"
        "assert importlib.util.find_spec('textcnn') is None, 'textcnn importable'\n"
        f"m = tf.saved_model.load({str(export)!r})\n"
        "out = m.signatures['serving_default'](text=tf.constant(['国足客场两球击败对手', '央行下调存款准备金率']))\n"
        "print(sorted(out), out['label'].numpy().tolist())\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "['label', 'label_id', 'probabilities']" in proc.stdout
