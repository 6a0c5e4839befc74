"""An interactive sampling explorer for Jupyter (ipywidgets): change the temperature,
top-p, prompt or length and the text is generated again."""

from __future__ import annotations

__all__ = ["explorer"]


def explorer(generator, prompt: str = "", length: int = 300, seed: int = 0):
    """Return a widget box; display it in a notebook. Colours show how sure the model
    was of each character (see :func:`helpers.sample.probability_html`)."""
    import ipywidgets as w

    from .sample import probability_html

    temp = w.FloatSlider(value=0.8, min=0.05, max=2.0, step=0.05, description="temperature")
    top_p = w.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p")
    text = w.Text(value=prompt, description="prompt")
    n = w.IntSlider(value=length, min=20, max=2000, step=20, description="length")
    out = w.HTML()

    def redraw(*_):
        try:
            s = generator.generate(text.value, length=n.value, temperature=temp.value,
                                   top_p=None if top_p.value >= 1 else top_p.value, seed=seed,
                                   unknown="unk")[0]
            out.value = probability_html(s, generator.vocab)
        except ValueError as e:
            out.value = f"<b>{e}</b>"

    for widget in (temp, top_p, text, n):
        widget.observe(redraw, names="value")
    redraw()
    box = w.VBox([w.HBox([temp, top_p]), w.HBox([text, n]), out])
    box.redraw = redraw  # for tests and scripted use
    box.controls = {"temperature": temp, "top_p": top_p, "prompt": text, "length": n}
    box.output = out
    return box
