"""matplotlib (Debian's python3-matplotlib) without a display: every figure
module draws through these two calls, so the look is the same everywhere."""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def new(title, xlabel, ylabel):
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=100)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def save(fig, ctx, name):
    """Writes <img_dir>/<name>.png; returns its path relative to the docs file."""
    os.makedirs(ctx.img_dir, exist_ok=True)
    path = os.path.join(ctx.img_dir, name + ".png")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return os.path.relpath(path, os.path.dirname(ctx.docs_file))
