"""KFP component: textcnn vocab (vocabulary, labels and embedding matrix from the train split)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from textcnn_components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def vocab(
    data: Input[Dataset],
    vocab: Output[Dataset],
    summary: Output[Metrics],
    pretrained: Input[Dataset] = None,
    min_count: int = 5,
    max_size: int = 0,
    binary: bool = False,
    train_word2vec: bool = False,
    embedding_dim: int = 300,
    word2vec_epochs: int = 5,
    seed: int = 42,
    mlflow_experiment: str = "textcnn",
    mlflow_parent_run_id: str = "",
    kfp_run_id: str = "",
    kfp_run_name: str = "",
):
    """Build the vocabulary and embeddings; see components/vocab/README.md."""
    from textcnn import vocab as step
    from textcnn.config import VocabConfig
    from textcnn.tracking import PipelineRun

    cfg = VocabConfig(data=data.path, out=vocab.path, min_count=min_count, max_size=max_size,
                      pretrained=pretrained.path if pretrained else None, binary=binary,
                      train_word2vec=train_word2vec, embedding_dim=embedding_dim,
                      word2vec_epochs=word2vec_epochs, seed=seed, quiet=True)
    with PipelineRun(mlflow_experiment, mlflow_parent_run_id, kfp_run_id, kfp_run_name).step("vocab", cfg) as log:
        coverage = step.run(cfg)
        for key, value in coverage.items():
            if isinstance(value, (int, float)):
                summary.log_metric(key, value)
        log.log(vocab.path)
