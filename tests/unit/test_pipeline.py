"""The compiled pipeline: loads back, five steps in order, GPU and toleration on train, the gate, no secrets."""

import re

import pytest
import yaml

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    from textcnn_pipeline.cli import main

    out = tmp_path_factory.mktemp("compile") / "pipeline.yaml"
    assert main(["compile", "--output", str(out), "--toleration", "nvidia.com/gpu:NoSchedule",
                 "--with", "pretrained"]) == 0
    return out


def documents(path):
    """The pipeline spec and, with Kubernetes settings, the platform spec (a second YAML document)."""
    docs = list(yaml.safe_load_all(path.read_text()))
    return docs[0], (docs[1] if len(docs) > 1 else {})


def test_loads_back_as_a_component(compiled):
    from kfp import components

    loaded = components.load_component_from_file(str(compiled))
    assert loaded.name == "textcnn"
    assert {"train_uri", "dev_uri", "test_uri", "pretrained_uri", "seq_len", "min_accuracy",
            "mlflow_experiment", "registered_model_name"} <= set(loaded.component_spec.inputs)


def test_five_steps_in_order_with_the_gate_before_export(compiled):
    doc, _ = documents(compiled)
    tasks = doc["root"]["dag"]["tasks"]
    needs = {name: set(t.get("dependentTasks", [])) for name, t in tasks.items()}
    assert needs["vocab"] >= {"clean"} and needs["train"] >= {"clean", "vocab"}
    assert needs["evaluate"] >= {"clean", "vocab", "train"}
    gate = next(t for t in tasks.values() if "triggerPolicy" in t)
    assert "evaluate-Output" in gate["triggerPolicy"]["condition"] and "min_accuracy" in gate["triggerPolicy"]["condition"]
    assert "evaluate" in gate["dependentTasks"]
    inner = doc["components"][gate["componentRef"]["name"]]["dag"]["tasks"]
    assert list(inner) == ["export"]


def test_train_asks_for_a_gpu_cpu_memory_and_tolerates_the_taint(compiled):
    doc, platform = documents(compiled)
    executor = doc["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert executor["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert executor["resources"]["accelerator"]["resourceCount"] == "1"
    assert executor["resources"]["resourceCpuRequest"] == "4" and executor["resources"]["resourceMemoryLimit"] == "16Gi"
    tolerations = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]["tolerations"]
    assert tolerations == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    for other in ("exec-clean", "exec-vocab", "exec-evaluate", "exec-export"):
        assert "accelerator" not in doc["deploymentSpec"]["executors"][other]["container"].get("resources", {})


def test_no_secrets_in_the_compiled_pipeline(compiled, monkeypatch):
    text = compiled.read_text()
    assert not re.search(r"(?i)(password|secret_key|access_key|api[_-]?key|token)\s*[:=]\s*\S", text)
    # MLflow's address and credentials are read from the cluster (a Secret) by name only.
    assert "sqlite:" not in text and "http://" not in text and "https://" not in text


def test_every_pipeline_parameter_is_documented_in_the_readme():
    from textcnn_pipeline.pipeline import step_parameters

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Pipeline parameters"):]
    for name in list(step_parameters()) + ["train_uri", "dev_uri", "test_uri", "pretrained_uri", "stopwords_uri",
                                           "user_dict_uri"]:
        assert f"`{name}`" in section, name


def test_param_pairs_and_config_files_become_typed_parameters(tmp_path):
    from textcnn.errors import TextcnnError
    from textcnn_pipeline.cli import parse_params

    (tmp_path / "c.yaml").write_text("train: {seq_len: 32, filter_sizes: [2, 3]}\npipeline: {min_accuracy: 0.5}\n")
    params = parse_params(["epochs=2", "xla=true", "lr=0.01"], str(tmp_path / "c.yaml"))
    assert params == {"seq_len": 32, "filter_sizes": "2,3", "min_accuracy": 0.5, "epochs": 2, "xla": True,
                      "lr": 0.01}
    with pytest.raises(TextcnnError, match="--param 'nope=1' is not NAME=VALUE"):
        parse_params(["nope=1"])
    with pytest.raises(TextcnnError, match="epochs must be a whole number"):
        parse_params(["epochs=two"])


def test_the_thucnews_config_sets_pipeline_parameters():
    from textcnn_pipeline.cli import parse_params

    params = parse_params(["epochs=3"], str(ROOT / "examples" / "thucnews.yaml"))
    assert params == {"tokenizer": "char", "min_count": 1, "variant": "non-static", "seq_len": 32,
                      "filter_sizes": "2,3,4", "num_filters": 256, "batch_size": 128, "lr": 0.001, "dropout": 0.5,
                      "epochs": 3, "early_stop_patience": 2, "eval_every": 200, "checkpoint_every": 200}


def test_the_fast_thucnews_config_sets_the_schedule():
    from textcnn_pipeline.cli import parse_params

    params = parse_params([], str(ROOT / "examples" / "thucnews-fast.yaml"))
    assert params["lr_schedule"] == "linear" and params["warmup_steps"] == 100 and params["epochs"] == 3
    assert params["lr"] == 0.003 and params["early_stop_patience"] == 0


def all_tasks(doc):
    """Every task of the pipeline, the ones inside the gate's sub-DAG too."""
    tasks = dict(doc["root"]["dag"]["tasks"])
    for component in doc["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return tasks


def test_cluster_tasks_retry_with_backoff_and_train_resumes(compiled):
    doc, _ = documents(compiled)
    steps = {name: t for name, t in all_tasks(doc).items() if not name.startswith(("importer", "condition-"))}
    assert set(steps) == {"clean", "vocab", "train", "evaluate", "export"}
    for task in steps.values():
        assert task["retryPolicy"] == {"maxRetryCount": 2, "backoffDuration": "30s", "backoffFactor": 2.0,
                                       "backoffMaxDuration": "3600s"}
    assert "checkpoint_root" not in steps["train"]["inputs"]["parameters"]  # no workspace unless asked
    assert "pipelineConfig" not in documents(compiled)[1]["platforms"]["kubernetes"]
    source = doc["deploymentSpec"]["executors"]["exec-train"]["container"]["command"][-1]
    assert "resume=True" in source


def test_a_checkpoint_workspace_is_where_train_keeps_its_checkpoints(tmp_path):
    from textcnn_pipeline.cli import main

    assert main(["compile", "--output", str(tmp_path / "p.yaml"), "--checkpoint-workspace", "20Gi",
                 "--retries", "4", "--retry-backoff", "10"]) == 0
    doc, platform = documents(tmp_path / "p.yaml")
    train = all_tasks(doc)["train"]
    assert train["inputs"]["parameters"]["checkpoint_root"]["runtimeValue"]["constant"] == "{{$.workspace_path}}"
    assert train["retryPolicy"]["maxRetryCount"] == 4 and train["retryPolicy"]["backoffDuration"] == "10s"
    assert platform["platforms"]["kubernetes"]["pipelineConfig"]["workspace"]["size"] == "20Gi"


def test_local_runs_do_not_retry_unless_asked(tmp_path):
    from kfp import compiler

    from textcnn_pipeline.pipeline import build_pipeline

    compiler.Compiler().compile(build_pipeline(), str(tmp_path / "local.yaml"))
    doc, _ = documents(tmp_path / "local.yaml")
    assert not [t for t in all_tasks(doc).values() if "retryPolicy" in t]


def test_several_gpus_for_mirrored_training(tmp_path):
    from textcnn_pipeline.cli import main

    assert main(["compile", "--output", str(tmp_path / "p.yaml"), "--train-gpus", "4"]) == 0
    doc, _ = documents(tmp_path / "p.yaml")
    assert doc["deploymentSpec"]["executors"]["exec-train"]["container"]["resources"]["accelerator"][
        "resourceCount"] == "4"
