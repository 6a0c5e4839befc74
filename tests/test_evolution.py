"""The evolution figure (samples after chosen epochs beside the loss curve) and the live
plot that redraws in place instead of clearing what was printed in between."""

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from helpers.plots import LivePlot, evolution  # noqa: E402

pytestmark = pytest.mark.core

HISTORY = [{"epoch": e, "seconds": 30.0 * e, "val_loss": 3.0 / e} for e in range(1, 11)]
SAMPLES = [{"epoch": e, "temperature": 0.7, "text": f"ROMEO:\nsample of epoch {e}\n" * 3}
           for e in range(1, 11)]


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title(loc="left") for ax in fig.axes]


def test_evolution_shows_the_chosen_epochs_beside_the_curve():
    fig = evolution(HISTORY, SAMPLES, epochs=(1, 3, 10))
    texts = "\n".join(_texts(fig))
    for e in (1, 3, 10):
        assert f"sample of epoch {e}" in texts and f"after epoch {e} " in texts
    assert "sample of epoch 2" not in texts
    assert len(fig.axes) == 4                  # the curve and one panel per epoch
    curve = fig.axes[0]
    assert len(curve.lines) == 1 + 3           # the curve and a marker per chosen epoch
    assert curve.lines[2].get_xydata().tolist() == [[90.0, 1.0]]


def test_evolution_skips_epochs_that_did_not_run_and_filters_temperature():
    hot = [dict(r, temperature=1.2, text="HOT") for r in SAMPLES]
    fig = evolution(HISTORY[:4], SAMPLES + hot, epochs=(1, 3, 10), temperature=1.2)
    texts = "\n".join(_texts(fig))
    assert "HOT" in texts and "sample of epoch" not in texts
    assert "after epoch 10" not in texts and "after epoch 3 " in texts
    with pytest.raises(ValueError, match="samples_per_epoch"):
        evolution(HISTORY, [], epochs=(1, 3))


def test_live_plot_updates_one_display_instead_of_clearing(monkeypatch):
    import IPython.display as ipd

    calls = []

    class Handle:
        def update(self, fig):
            calls.append(("update", fig))

    def display(fig, display_id=False):
        calls.append(("display", display_id))
        return Handle()

    def clear_output(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("clear_output erases the samples printed between epochs")

    monkeypatch.setattr(ipd, "display", display)
    monkeypatch.setattr(ipd, "clear_output", clear_output)
    live = LivePlot()
    for epoch in range(3):
        live.on_epoch_end(epoch, {"loss": 2.0 - epoch / 10, "val_loss": 2.1 - epoch / 10})
    assert [c[0] for c in calls] == ["display", "update", "update"]
    assert calls[0][1] is True
    assert len(live.rows) == 3 and not math.isnan(live.rows[-1]["val_loss"])
