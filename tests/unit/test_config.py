import pytest

from textcnn.cli import build_parser
from textcnn.config import TrainConfig, resolve
from textcnn.errors import TextcnnError


def write(tmp_path, body):
    path = tmp_path / "c.yaml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_defaults_are_the_original_configuration():
    cfg = TrainConfig()
    assert (cfg.epochs, cfg.batch_size, cfg.seq_len, cfg.filter_sizes, cfg.num_filters, cfg.dropout,
            cfg.lr, cfg.l2, cfg.eval_every, cfg.checkpoint_every, cfg.keep_checkpoints) == \
        (10, 16, 100, (2, 3, 4, 5), 300, 0.5, 1e-3, 0.0, 1000, 1000, 5)


def test_precedence_default_then_yaml_then_flags(tmp_path):
    path = write(tmp_path, "train:\n  data: d\n  vocab: v\n  out: o\n  epochs: 3\n  seq-len: 40\n"
                           "  filter_sizes: [3, 4]\n  xla: true\n")
    cfg = resolve("train", path, {"epochs": 7})
    assert (cfg.epochs, cfg.seq_len, cfg.filter_sizes, cfg.xla, cfg.batch_size) == (7, 40, (3, 4), True, 16)


def test_flags_parse_through_the_generated_parser():
    args = build_parser().parse_args(["train", "--data", "d", "--vocab", "v", "--out", "o",
                                      "--filter-sizes", "2,3", "--no-xla", "--lr", "0.01"])
    assert (args.filter_sizes, args.xla, args.lr, args.epochs) == ((2, 3), False, 0.01, None)


@pytest.mark.parametrize("body, message", [
    ("train:\n  epoch: 3\n", "did you mean 'epochs'"),
    ("train:\n  epochs: many\n", "train.epochs must be a whole number"),
    ("train:\n  xla: 1\n", "must be true or false"),
    ("training:\n  epochs: 3\n", "unknown section 'training'"),
    ("train: [1, 2]\n", "must be a mapping"),
    ("train:\n  epochs: [\n", "not valid YAML"),
])
def test_bad_config_files_name_the_problem(tmp_path, body, message):
    with pytest.raises(TextcnnError, match=message.replace("(", r"\(")):
        resolve("train", write(tmp_path, body), {"data": "d", "vocab": "v", "out": "o"})


def test_missing_required_setting():
    with pytest.raises(TextcnnError, match="train needs --vocab"):
        resolve("train", None, {"data": "d", "out": "o"})


def test_bad_flag_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["train", "--epochs", "2.5"])
    assert e.value.code == 2
    assert "--epochs must be a whole number" in capsys.readouterr().err
