"""`textcnn-pipeline submit` against a local stand-in of the KFP v2beta1 REST API (no cluster here)."""

import yaml

from tests.kfp_standin import KfpStandIn


def submit(standin, tmp_path, *extra):
    from textcnn_pipeline.cli import main

    return main(["submit", "--host", standin.url, "--workspace", str(tmp_path), "--train-uri", "gs://b/train.tsv",
                 "--dev-uri", "gs://b/dev.tsv", "--test-uri", "gs://b/test.tsv", "--param", "epochs=3",
                 "--param", "xla=true", *extra])


def test_first_submit_uploads_the_pipeline_and_creates_a_run(tmp_path, capsys):
    with KfpStandIn() as kfp:
        assert submit(kfp, tmp_path, "--experiment", "exp1", "--run-name", "r1") == 0
    out = capsys.readouterr().out
    (run_id,) = kfp.runs
    assert f"submitted: {kfp.url}/#/runs/details/{run_id}" in out
    calls = [(r["method"], r["path"]) for r in kfp.requests]
    assert ("POST", "/apis/v2beta1/pipelines/upload") in calls and ("POST", "/apis/v2beta1/runs") in calls
    compiled = (tmp_path / "textcnn_pipeline.yaml").read_bytes()
    assert kfp.uploads == [compiled]  # the recorded pipeline is the compiled one, byte for byte
    run = kfp.runs[run_id]
    (pipeline_id,) = kfp.pipelines
    assert run["display_name"] == "r1"
    assert run["pipeline_version_reference"] == {
        "pipeline_id": pipeline_id, "pipeline_version_id": kfp.versions[pipeline_id][0]["pipeline_version_id"]}
    params = run["runtime_config"]["parameters"]
    assert params["epochs"] == 3 and params["xla"] is True and params["train_uri"] == "gs://b/train.tsv"
    assert kfp.experiments[run["experiment_id"]]["display_name"] == "exp1"
    doc = next(yaml.safe_load_all(compiled))  # the pipeline spec; the platform spec follows
    assert doc["pipelineInfo"]["name"] == "textcnn"


def test_a_second_submit_adds_a_version_and_no_cache_sends_the_spec(tmp_path):
    with KfpStandIn() as kfp:
        assert submit(kfp, tmp_path) == 0
        assert submit(kfp, tmp_path, "--no-cache") == 0
    (pipeline_id,) = kfp.pipelines
    assert len(kfp.versions[pipeline_id]) == 2
    assert [r["path"] for r in kfp.requests if r["method"] == "POST"].count("/apis/v2beta1/pipelines/upload") == 1
    assert len(kfp.experiments) == 1  # found by name the second time
    second = list(kfp.runs.values())[1]
    assert list(kfp.runs.values())[0].get("pipeline_spec") is None  # the first run refers to the stored version
    inline = second["pipeline_spec"]  # the pipeline spec with its Kubernetes platform spec
    assert "kubernetes" in inline["platform_spec"]["platforms"]
    tasks = inline["pipeline_spec"]["root"]["dag"]["tasks"]
    assert all(t.get("cachingOptions", {}).get("enableCache") is not True for t in tasks.values())


def test_submit_without_a_train_uri_or_to_nothing_is_a_clear_error(tmp_path, capsys):
    from textcnn_pipeline.cli import main

    assert main(["submit", "--host", "http://127.0.0.1:9", "--workspace", str(tmp_path)]) == 2
    assert "no URI was given; pass --train-uri" in capsys.readouterr().err
    assert main(["submit", "--host", "http://127.0.0.1:9", "--workspace", str(tmp_path), "--train-uri", "gs://b/t",
                 "--dev-uri", "gs://b/d", "--test-uri", "gs://b/t2"]) == 2
    err = capsys.readouterr().err
    assert "Kubeflow Pipelines at http://127.0.0.1:9 refused the submission" in err and "Traceback" not in err
