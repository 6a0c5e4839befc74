"""The LSTM cell as a picture: notebook 07 shows it before it records the gates.

Drawn with matplotlib (no image file to keep in step with the code): the cell state ``c``
runs along the top, the hidden state ``h`` along the bottom, and the four gates sit between
them with the names :func:`helpers.activations.record` gives them (``i``, ``f``, ``g``, ``o``).
"""

from __future__ import annotations

__all__ = ["GATES", "lstm_cell_diagram"]

# name -> (what it computes, what it does); the order of the gate blocks in a Keras kernel
GATES = {
    "i": ("σ(W_i x + U_i h + b_i)", "input gate: how much of g to write"),
    "f": ("σ(W_f x + U_f h + b_f)", "forget gate: how much of c to keep"),
    "g": ("tanh(W_g x + U_g h + b_g)", "candidate: what could be written"),
    "o": ("σ(W_o x + U_o h + b_o)", "output gate: how much of c to show"),
}


def lstm_cell_diagram(ax=None):
    """Draw one LSTM step: inputs x_t and h_{t-1}, the gates, c_{t-1} -> c_t, h_t.
    Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 5)
    ax.axis("off")
    ax.add_patch(FancyBboxPatch((1.0, 0.7), 7.6, 3.6, boxstyle="round,pad=0.05",
                                fc="#f5f7fb", ec="#8899aa"))

    def arrow(a, b, color="#334455", **kw):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, lw=1.4,
                                     color=color, **kw))

    def node(xy, text, fc, r=0.28):
        ax.add_patch(plt.Circle(xy, r, fc=fc, ec="#334455", zorder=3))
        ax.text(*xy, text, ha="center", va="center", fontsize=12, zorder=4)

    # the cell state: a conveyor belt along the top
    arrow((0.2, 3.8), (9.7, 3.8), color="#c0392b")
    ax.text(0.2, 4.05, "$c_{t-1}$", fontsize=12, color="#c0392b")
    ax.text(9.3, 4.05, "$c_t$", fontsize=12, color="#c0392b")
    node((3.2, 3.8), "×", "#ffffff")       # f * c_{t-1}
    node((5.2, 3.8), "+", "#ffffff")       # + i * g
    # the inputs along the bottom
    arrow((0.2, 1.2), (1.6, 1.2))
    ax.text(0.1, 0.85, "$h_{t-1}$", fontsize=12)
    arrow((1.8, 0.0), (1.8, 1.1))
    ax.text(1.95, 0.15, "$x_t$: the embedded character (layer 0), or $h_t$ of the layer below",
            fontsize=10)
    ax.plot([1.6, 7.0], [1.2, 1.2], color="#334455", lw=1.4)
    colours = {"f": "#f9d9a6", "i": "#bfe3c0", "g": "#c7dcf2", "o": "#e8c8ef"}
    xs = {"f": 3.2, "i": 4.4, "g": 5.2, "o": 6.4}
    for name, x in xs.items():
        ax.add_patch(FancyBboxPatch((x - 0.35, 1.9), 0.7, 0.6, boxstyle="round,pad=0.03",
                                    fc=colours[name], ec="#334455", zorder=3))
        ax.text(x, 2.2, f"{name}\n{'tanh' if name == 'g' else 'σ'}", ha="center", va="center",
                fontsize=9, zorder=4)
        arrow((x, 1.2), (x, 1.88))
    arrow((3.2, 2.52), (3.2, 3.52))                         # f -> x node
    node((4.8, 3.0), "×", "#ffffff", r=0.22)                # i * g
    arrow((4.4, 2.52), (4.68, 2.83))
    arrow((5.2, 2.52), (4.92, 2.83))
    arrow((4.95, 3.15), (5.1, 3.55))                        # -> + node
    # the output: h_t = o * tanh(c_t)
    ax.plot([7.3, 7.3], [3.8, 3.3], color="#c0392b", lw=1.4)
    node((7.3, 3.05), "tanh", "#ffffff", r=0.3)
    node((7.3, 2.2), "×", "#ffffff", r=0.22)
    arrow((7.3, 2.75), (7.3, 2.43))
    arrow((6.77, 2.2), (7.07, 2.2))
    arrow((7.52, 2.2), (9.7, 2.2))
    ax.text(9.3, 1.85, "$h_t$", fontsize=12)
    ax.text(8.0, 2.35, "to the next layer\nand the next step", fontsize=8, color="#445566")
    ax.text(5.0, 4.45, "LSTM cell, one step (layer L of record(): 'L/i', 'L/f', 'L/g', 'L/o', "
            "'L/c', 'L/h')", ha="center", fontsize=10)
    return ax
