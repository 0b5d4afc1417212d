"""Learning-rate schedules for the training step (keras.ops only, so any backend runs them)."""

from __future__ import annotations

import keras

SCHEDULES = ("constant", "cosine", "linear")


class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then constant, or cosine / linear
    decay to 0 at `total_steps`. The rate is a function of the optimizer's step count, which the
    checkpoints keep, so a resumed run continues on the same curve."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0, decay: str = "constant"):
        if decay not in SCHEDULES:
            raise ValueError(f"decay must be one of {SCHEDULES}")
        self.peak, self.total_steps, self.warmup_steps, self.decay = peak, total_steps, warmup_steps, decay

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        warmup = ops.minimum(1.0, (step + 1.0) / max(self.warmup_steps, 1))
        progress = ops.clip((step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0)
        if self.decay == "cosine":
            scale = 0.5 * (1.0 + ops.cos(3.141592653589793 * progress))
        elif self.decay == "linear":
            scale = 1.0 - progress
        else:
            scale = ops.ones_like(progress)
        return self.peak * scale * (warmup if self.warmup_steps else 1.0)

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "decay": self.decay}
