"""The main job: the whole pipeline through kfp.local, logged to a real MLflow store.

Four runs share one store: a weak model (first champion), `make run` with the embedded defaults
(beats it: the new champion), the weak model again (a candidate), and one stopped by the gate.
"""

import json
import os
import re
import subprocess
import time

from tests.conftest import ROOT
from tests.e2e.conftest import BIN

def test_every_task_succeeds_and_writes_its_artifacts(store):
    run = store["runs"]["make_run"]
    for task in ("clean", "vocab", "train", "evaluate", "export"):
        assert f"Task '{task}' finished with status" in re.sub(r"\x1b\[[0-9;]*m", "", run["out"])
    d = run["dir"]
    for path in ("clean/data/train.parquet", "clean/data/report.json", "vocab/vocab/vocab.json",
                 "train/model/model.keras", "evaluate/evaluation/metrics.json", "evaluate/report",
                 "export/saved_model/1/saved_model.pb"):
        assert (d / path).exists(), path
    metrics = json.loads((d / "evaluate/evaluation/metrics.json").read_text())
    assert f"test metrics: accuracy {metrics['accuracy']:.4f}" in run["out"]
    assert "exported model:" in run["out"] and "@champion" in run["out"]


def test_mlflow_holds_a_parent_run_with_five_nested_step_runs(store, client):
    run_id = store["runs"]["make_run"]["run_id"]
    parent = client.get_run(run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags.get("kfp.run_id")
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'")
    by_step = {r.info.run_name: r for r in children}
    assert sorted(by_step) == ["clean", "evaluate", "export", "train", "vocab"]
    assert all(r.info.status == "FINISHED" for r in children)
    assert by_step["clean"].data.metrics["input_lines"] == 460 and by_step["clean"].data.metrics["rejected"] == 0
    assert by_step["vocab"].data.metrics["vocab_size"] > 2
    train = by_step["train"].info.run_id
    assert len(client.get_metric_history(train, "epoch_loss")) >= 2
    assert client.get_metric_history(train, "dev_accuracy")
    assert by_step["train"].data.params["seq_len"] == "100"  # the embedded defaults
    assert parent.data.params["train.filter_sizes"] == "(2, 3, 4, 5)"
    test_accuracy = parent.data.metrics["test_accuracy"]
    assert by_step["evaluate"].data.metrics["test_accuracy"] == test_accuracy > 0.6
    artifacts = {a.path for a in client.list_artifacts(by_step["evaluate"].info.run_id)}
    assert {"confusion_matrix.png", "classification_report.txt", "predictions.tsv", "report.html"} <= artifacts
    assert "tensorboard" in {a.path for a in client.list_artifacts(train)}
    assert {"vocab.json", "labels.json"} <= {a.path for a in client.list_artifacts(by_step["vocab"].info.run_id)}


def test_registry_follows_the_champion_rule(store, client):
    versions = {int(v.version): v for v in client.search_model_versions("name = 'textcnn'")}
    assert sorted(versions) == [1, 2, 3]  # the gated run registered nothing
    accuracy = {n: float(v.tags["test_accuracy"]) for n, v in versions.items()}
    assert accuracy[2] > accuracy[1] == accuracy[3]  # same seed, same weak model
    model = client.get_registered_model("textcnn")
    assert {k: int(v) for k, v in model.aliases.items()} == {"champion": 2, "candidate": 3}
    assert "registered as textcnn/1@champion" in store["runs"]["weak"]["out"]
    assert "registered as textcnn/3@candidate" in store["runs"]["weak_again"]["out"]


def test_the_gate_stops_export_and_closes_the_run(store, client):
    gated = store["runs"]["gated"]
    assert "not exported: the accuracy gate" in gated["out"]
    assert not (gated["dir"] / "export").exists()
    parent = client.get_run(gated["run_id"])
    assert parent.info.status == "FINISHED"
    steps = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{gated['run_id']}'")
    assert sorted(r.info.run_name for r in steps) == ["clean", "evaluate", "train", "vocab"]
    vocab = next(r for r in steps if r.info.run_name == "vocab")
    assert vocab.data.tags["embeddings"] == "pretrained" and vocab.data.metrics["types_found"] == 20


def test_the_registered_champion_answers_raw_text(store):
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(store["uri"])
    model = mlflow.pyfunc.load_model("models:/textcnn@champion")
    out = model.predict(pd.DataFrame({"text": ["湖人队主场击败勇士队", "教育部公布高考报名人数"]}))
    assert list(out.columns) == ["label", "probability"] and list(out["label"]) == ["体育", "教育"]


def test_unreachable_mlflow_is_one_clear_error_before_any_work(tmp_path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "TEXTCNN_MLFLOW_WAIT": "0"}
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "textcnn-pipeline"), "run", "--workspace", str(tmp_path / "ws")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "MLflow tracking at http://127.0.0.1:9 is not usable" in lines[0], proc.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "ws" / "outputs").exists()


def test_a_failing_task_fails_the_run_in_one_line_and_in_mlflow(tmp_path):
    import mlflow

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.tsv").write_text("no tab here\n" * 20, encoding="utf-8")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    proc = subprocess.run([str(BIN / "textcnn-pipeline"), "run", "--data", str(tmp_path / "data"),
                           "--workspace", str(tmp_path / "ws")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("textcnn-pipeline run: error:") and "see the failed task's log above" in last
    assert "20 of 20 lines rejected" in proc.stdout + proc.stderr  # the clean task's own message
    client = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    (parent,) = client.search_runs([client.get_experiment_by_name("textcnn").experiment_id],
                                   "attributes.run_name LIKE 'textcnn-local-%'")
    assert parent.info.status == "FAILED"
