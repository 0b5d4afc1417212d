"""Training on several devices or machines with tf.distribute (train --distribute).

mirrored: MirroredStrategy over every GPU of this machine (one CPU replica without GPUs).
multi-worker: MultiWorkerMirroredStrategy over the machines TF_CONFIG lists (Kubeflow's TFJob and
the Job + headless Service of manifests/training set it). Every worker runs the same command on
the same --data/--vocab/--out (a shared volume); the chief writes the outputs (checkpoints,
TensorBoard, model), the other workers write theirs to a temporary folder that is removed, as
tf.distribute's checkpointing requires all workers to save. --batch-size is the global batch,
split evenly over the replicas; an epoch's last partial batch is dropped, so every replica
always gets the same number of examples.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .errors import TextcnnError

MODES = ("none", "mirrored", "multi-worker")


@dataclass(frozen=True)
class Role:
    """Where this process stands in the cluster TF_CONFIG describes (a lone process: the chief)."""
    chief: bool = True
    task: str = "chief"
    workers: int = 1


def role(mode: str) -> Role:
    """This process's role, from TF_CONFIG, without starting TensorFlow."""
    if mode != "multi-worker":
        return Role()
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise TextcnnError("--distribute multi-worker needs TF_CONFIG (the cluster and this process's task)",
                           'set it, e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
                           '"task": {"type": "worker", "index": 0}}; a TFJob sets it for you')
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
        workers = sum(len(cluster.get(k, [])) for k in ("chief", "worker"))
    except (ValueError, KeyError, TypeError) as e:
        raise TextcnnError(f"TF_CONFIG is not a cluster and task ({type(e).__name__}: {e})",
                           'e.g. {"cluster": {"worker": [...]}, "task": {"type": "worker", "index": 0}}') from None
    # The chief is the `chief` task, or worker 0 where the cluster has no chief.
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return Role(chief=chief, task=f"{kind}{index}", workers=workers)


def make_strategy(tf, mode: str):
    """The tf.distribute strategy for the mode (None for none). Create it before any other
    TensorFlow work: MultiWorkerMirroredStrategy must configure the runtime first."""
    if mode == "mirrored":
        return tf.distribute.MirroredStrategy()
    if mode == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return None


def epoch_dataset(tf, strategy, xs, ys, order, global_batch: int):
    """The epoch's global batches (indices in `order`, remainder dropped), each split evenly over
    the replicas: this worker's input pipeline yields the per-replica batches of its replicas."""

    def per_worker(context):
        per_replica = context.get_per_replica_batch_size(global_batch)
        local = context.num_replicas_in_sync // context.num_input_pipelines
        first = context.input_pipeline_id * local
        mine = (tf.data.Dataset.from_tensor_slices(order)
                .batch(global_batch, drop_remainder=True)
                .map(lambda idx: tf.reshape(idx, (-1, per_replica))[first:first + local])
                .unbatch())
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return (mine.map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)), num_parallel_calls=tf.data.AUTOTUNE)
                .prefetch(tf.data.AUTOTUNE).with_options(options))

    return strategy.distribute_datasets_from_function(per_worker)
