import keras
import pytest

from textcnn.schedule import WarmupDecay


def rates(schedule, steps):
    return [float(keras.ops.convert_to_numpy(schedule(s))) for s in steps]


def test_warmup_rises_linearly_to_the_peak():
    assert rates(WarmupDecay(1.0, 100, warmup_steps=10), [0, 4, 9, 50]) == pytest.approx([0.1, 0.5, 1.0, 1.0])


@pytest.mark.parametrize("decay, middle", [("linear", 0.5), ("cosine", 0.5), ("constant", 1.0)])
def test_decay_reaches_zero_at_the_last_step(decay, middle):
    got = rates(WarmupDecay(2.0, 110, warmup_steps=10, decay=decay), [10, 60, 110, 500])
    end = 2.0 if decay == "constant" else 0.0
    assert got == pytest.approx([2.0, 2.0 * middle, end, end], abs=1e-6)


def test_cosine_stays_above_linear_in_the_first_half():
    cosine, linear = WarmupDecay(1.0, 100, decay="cosine"), WarmupDecay(1.0, 100, decay="linear")
    assert all(c > l for c, l in zip(rates(cosine, [10, 30, 45]), rates(linear, [10, 30, 45])))


def test_unknown_decay():
    with pytest.raises(ValueError, match="decay must be one of"):
        WarmupDecay(1.0, 10, decay="step")
