"""The components are thin, faithful wrappers of the steps, each compiles on its own."""

import ast
import dataclasses
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from textcnn.config import CleanConfig, EvaluateConfig, ExportConfig, TrainConfig, VocabConfig

STEPS = {"clean": CleanConfig, "vocab": VocabConfig, "train": TrainConfig, "evaluate": EvaluateConfig,
         "export": ExportConfig}
BOOKKEEPING = {"mlflow_experiment", "mlflow_parent_run_id", "kfp_run_id", "kfp_run_name", "checkpoint_root"}
# Step settings a component sets itself (paths, verbosity, machine details) or adds (the gate, MLflow names).
SET_BY_COMPONENT = {"train", "dev", "test", "out", "data", "vocab", "model", "metrics", "quiet", "workers",
                    "resume", "eval_batch_size", "batch_size", "version", "stopwords", "user_dict", "pretrained"}
ADDED = {"evaluate": {"min_accuracy"}, "export": {"registered_model_name"}}


def component(step):
    import importlib

    return getattr(importlib.import_module(f"textcnn_components.{step}.component"), step)


@pytest.mark.parametrize("step", STEPS)
def test_parameters_match_the_step_settings(step):
    spec = component(step).component_spec
    params = {name: i.default for name, i in spec.inputs.items()
              if not i.type.startswith("system.") and name not in BOOKKEEPING}
    fields = {f.name: f.default for f in dataclasses.fields(STEPS[step])
              if f.name not in SET_BY_COMPONENT or (step == "train" and f.name == "batch_size")}
    expected = {k: (",".join(map(str, v)) if isinstance(v, tuple) else "" if v is None else v)
                for k, v in fields.items()}
    assert {k: v for k, v in params.items() if k not in ADDED.get(step, set())} == expected


@pytest.mark.parametrize("step", STEPS)
def test_only_standard_library_and_kfp_at_module_top(step):
    tree = ast.parse((ROOT / "components" / step / "component.py").read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add(node.module.split(".")[0])
    assert top <= {"kfp", "typing", "textcnn_components"}
    body = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert any(isinstance(n, ast.ImportFrom) and n.module.startswith("textcnn") for n in ast.walk(body))


@pytest.mark.parametrize("step", STEPS)
def test_each_component_compiles_alone(step, tmp_path):
    from kfp import compiler

    compiler.Compiler().compile(component(step), str(tmp_path / f"{step}.yaml"))
    doc = yaml.safe_load((tmp_path / f"{step}.yaml").read_text())
    (executor,) = doc["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"].split("/")[-1].startswith("textcnn-gpu:" if step == "train" else "textcnn:")
    assert "pip install" not in " ".join(executor["container"]["command"])  # install_kfp_package=False


@pytest.mark.parametrize("step", STEPS)
def test_readme_documents_every_input_output_and_parameter(step):
    readme = (ROOT / "components" / step / "README.md").read_text(encoding="utf-8")
    spec = component(step).component_spec
    for name in list(spec.inputs) + list(spec.outputs or {}):
        assert f"`{name}`" in readme, name


def test_image_names_come_from_one_place(monkeypatch):
    import importlib

    import textcnn_components.images as images

    monkeypatch.setenv("TEXTCNN_REGISTRY", "registry.example.com/ml/")
    monkeypatch.setenv("TEXTCNN_IMAGE_TAG", "9.9")
    reloaded = importlib.reload(images)
    assert (reloaded.CPU_IMAGE, reloaded.GPU_IMAGE) == ("registry.example.com/ml/textcnn:9.9",
                                                        "registry.example.com/ml/textcnn-gpu:9.9")
    monkeypatch.delenv("TEXTCNN_REGISTRY")
    monkeypatch.delenv("TEXTCNN_IMAGE_TAG")
    importlib.reload(images)
    sources = [p.read_text() for p in Path(ROOT / "components").glob("*/component.py")]
    assert all("textcnn:" not in s and "image=" not in s.replace("base_image=CPU_IMAGE", "")
               .replace("base_image=GPU_IMAGE", "") for s in sources)
