"""Draws docs/architecture.png, the picture of docs/ARCHITECTURE.md: python docs/architecture_figure.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

BOXES = {
    # name: (x, y, w, h, colour, text)
    "data": (0.2, 4.2, 2.2, 1.0, "#dbe9f6", "data module\nbatch: x | (x, y)\n| {a, b, ...}"),
    "ctx": (3.0, 4.2, 2.4, 1.0, "#fde8c8", "StepContext\nreal, labels, a, b,\nz, fake ..."),
    "prepare": (3.0, 2.8, 2.4, 0.9, "#fde8c8", "prepare_step(ctx)\nnoise, G's samples"),
    "phases": (6.0, 3.3, 2.6, 1.9, "#fbd5d5",
               "phases(): due ones, in order\nD     every iteration\n"
               "G     every critic_steps\nDreg  every 16, lazy\n..."),
    "losses": (9.2, 4.2, 2.4, 1.0, "#e3f2d9", "loss(ctx) -> {terms}\nrun_discriminator(x)"),
    "optim": (9.2, 2.6, 2.4, 1.2, "#e3f2d9", "named optimizers\ngenerator, discriminator,\nencoder, ..."),
    "state": (6.0, 1.3, 2.6, 1.1, "#ece2f4", "training_state\npools, k, p, alpha\n+ RNG -> checkpoint"),
    "callbacks": (0.2, 1.3, 2.4, 1.6, "#eeeeee",
                  "callbacks\nsample grids (preview_grid)\nEMA, metrics, guard,\ncheckpoints"),
    "eval": (3.0, 0.2, 2.4, 1.1, "#eeeeee", "evaluation\nmetrics by name\nsample() / translate()"),
}
ARROWS = [(("data", "right"), ("ctx", "left")), (("ctx", "right"), ("phases", "left")),
          (("prepare", "right"), ("phases", "left")), (("phases", "right"), ("losses", "left")),
          (("losses", "bottom"), ("optim", "top")), (("phases", "bottom"), ("state", "top")),
          (("state", "left"), ("callbacks", "right")), (("callbacks", "bottom"), ("eval", "left"))]


def anchor(name, side):
    x, y, w, h, *_ = BOXES[name]
    return {"right": (x + w, y + h / 2), "left": (x, y + h / 2), "top": (x + w / 2, y + h),
            "bottom": (x + w / 2, y)}[side]


def main() -> None:
    fig, ax = plt.subplots(figsize=(12, 5.6))
    for name, (x, y, w, h, colour, text) in BOXES.items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=colour, ec="#555555"))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9, family="monospace", wrap=True)
    for a, b in ARROWS:
        ax.add_patch(FancyArrowPatch(anchor(*a), anchor(*b), arrowstyle="-|>", mutation_scale=14, color="#444444",
                                     shrinkA=4, shrinkB=4))
    ax.text(6.0, 5.45, "GANModule.training_step: one iteration", fontsize=11, weight="bold")
    ax.set_xlim(0, 11.8)
    ax.set_ylim(0, 5.8)
    ax.axis("off")
    out = Path(__file__).with_name("architecture.png")
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
