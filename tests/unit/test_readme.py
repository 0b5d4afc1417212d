"""The README stays true: its demo commands are the Makefile's, its config example loads."""

import re

from tests.conftest import ROOT
from textcnn.config import load_yaml, resolve

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block_after(heading_text: str, lang: str) -> str:
    start = README.index(heading_text)
    return re.search(rf"```{lang}\n(.*?)```", README[start:], re.S).group(1)


def commands(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_cli_demo_block_matches_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\ndemo-cli:"):makefile.index("\ncompile:")]
    recipe = recipe.replace("$(BIN)/", "").replace("$(SAMPLE)", "examples/sample").replace("$(DEMO)", "runs/sample")
    expected = [c for c in commands(recipe.replace("\t", "")) if "textcnn" in c]
    documented = [c for c in commands(block_after("What `make demo-cli` runs", "sh")) if "textcnn" in c]
    assert len(expected) == 6 and documented == expected


def test_configuration_example_loads(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(block_after("## Configuration files", "yaml"), encoding="utf-8")
    assert set(load_yaml(str(path))) == {"clean", "vocab", "train"}
    cfg = resolve("train", str(path), {"data": "d", "vocab": "v", "out": "o"})
    assert (cfg.seq_len, cfg.filter_sizes, cfg.num_filters, cfg.batch_size) == (32, (2, 3, 4), 256, 128)


def test_pipeline_parameter_table_lists_every_parameter_with_its_default():
    from textcnn_pipeline.pipeline import step_parameters

    section = README[README.index("### Pipeline parameters"):README.index("### Components")]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| ([^|]+) \|", section, re.M)
    documented = {name: (kind, default.strip()) for name, kind, default in rows if not name.endswith("_uri")}
    expected = {name: (p.annotation.__name__, f"`{p.default}`" if p.default != "" else '`""`')
                for name, p in step_parameters().items()}
    assert documented == expected
