"""The callbacks of a training run: the time-cosine learning rate, the clock that counts
resumed runs, and the time budget that stops after a batch."""

import math
import time

import pytest

from helpers.callbacks import Clock, TimeBudget, time_cosine_lr
from helpers.settings import TrainConfig

pytestmark = pytest.mark.core


def test_time_cosine_warms_up_then_decays_from_the_rate_to_its_floor():
    c = TrainConfig(learning_rate=1e-2, min_lr_fraction=0.1, warmup_steps=10,
                    schedule="cosine-time", max_minutes=1.0)
    assert time_cosine_lr(c, 0.0, 0) == pytest.approx(1e-3)  # 1/10 of the way up
    assert time_cosine_lr(c, 0.0, 10) == pytest.approx(1e-2)
    assert time_cosine_lr(c, 30.0, 100) == pytest.approx(1e-3 + 9e-3 * 0.5)  # half the time
    assert time_cosine_lr(c, 60.0, 100) == pytest.approx(1e-3)
    assert time_cosine_lr(c, 600.0, 100) == pytest.approx(1e-3)  # past the budget: the floor
    rates = [time_cosine_lr(c, t, 100) for t in range(0, 61, 5)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    assert not any(math.isnan(r) for r in rates)


def test_the_clock_counts_the_runs_it_resumes():
    clock = Clock(elapsed0=100.0)
    assert 100.0 <= clock() < 110.0


class _Model:
    stop_training = False


def test_the_time_budget_stops_after_the_batch_that_spends_it():
    clock = Clock(elapsed0=0.0)
    budget = TimeBudget(minutes=1.0, clock=clock)
    model = _Model()
    budget.set_model(model)
    budget.on_train_batch_end(0)
    assert not model.stop_training
    clock.t0 = time.time() - 61  # a minute and a second later
    budget.on_train_batch_end(1)
    assert model.stop_training
