import json

import pytest

from textcnn.distribute import Role, role
from textcnn.errors import TextcnnError


def config(kind: str, index: int, cluster: dict) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})


@pytest.mark.parametrize("kind, index, cluster, chief", [
    ("worker", 0, {"worker": ["a:1", "b:1"]}, True),          # no chief task: worker 0 is the chief
    ("worker", 1, {"worker": ["a:1", "b:1"]}, False),
    ("chief", 0, {"chief": ["c:1"], "worker": ["a:1"]}, True),
    ("worker", 0, {"chief": ["c:1"], "worker": ["a:1"]}, False),
])
def test_the_chief_is_the_chief_task_or_worker_0(monkeypatch, kind, index, cluster, chief):
    monkeypatch.setenv("TF_CONFIG", config(kind, index, cluster))
    me = role("multi-worker")
    assert me.chief is chief and me.task == f"{kind}{index}" and me.workers == 2


def test_without_multi_worker_this_process_is_the_chief(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", config("worker", 1, {"worker": ["a:1", "b:1"]}))
    assert role("none") == role("mirrored") == Role()


@pytest.mark.parametrize("value, match", [(None, "needs TF_CONFIG"), ("{", "TF_CONFIG is not a cluster"),
                                          ('{"cluster": {}}', "TF_CONFIG is not a cluster")])
def test_bad_tf_config(monkeypatch, value, match):
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(TextcnnError, match=match):
        role("multi-worker")
