"""2-D latent scatter plots by class: the encoder's codes of held-out data over the prior (AAE's figure)."""

from __future__ import annotations

from pathlib import Path

import torch

from .samples import PeriodicPictureCallback


def save_latent_scatter(codes: torch.Tensor, labels: torch.Tensor | None, path: Path, title: str = "",
                        limit: float | None = 4.0) -> Path:
    """Codes (N, 2) as a scatter plot coloured by ``labels`` (tab10, with a legend), 1 and 2 std
    circles of the N(0, I) prior in grey, axes ``[-limit, limit]`` (``None``: fitted to the points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codes = codes.detach().float().cpu()
    if codes.dim() != 2 or codes.size(1) != 2:
        raise ValueError(f"a latent scatter needs (N, 2) codes, got {tuple(codes.shape)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=4, alpha=0.6, color="tab:blue")
    else:
        labels = labels.detach().cpu().long()
        cmap = plt.get_cmap("tab10")
        for cls in labels.unique().tolist():
            chosen = labels == cls
            ax.scatter(codes[chosen, 0], codes[chosen, 1], s=4, alpha=0.7, color=cmap(cls % 10), label=str(cls))
        ax.legend(markerscale=3, fontsize=7, loc="upper right", ncol=2)
    for radius in (1.0, 2.0):
        ax.add_patch(plt.Circle((0, 0), radius, fill=False, color="grey", linestyle="--", linewidth=0.8))
    if limit is not None:
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


class LatentScatterCallback(PeriodicPictureCallback):
    """Every ``every_n_steps`` iterations and at the end of fit, encode up to ``num_samples``
    held-out images (the training split when there is none) with ``pl_module.encode``, plot
    the 2-D codes coloured by class (prior circles at 1 and 2 std), save
    ``<root>/latents/iter_NNNNNN.png`` and log the picture to W&B / TensorBoard under
    ``latents``. Rank 0 only; the encoder runs in eval mode (its modes are restored).

    Needs a model with ``encode(x) -> (N, 2)`` codes (``AAE`` with ``latent_dim: 2``; a tuple
    output such as VAE/GAN's ``(mean, log_var)`` plots the mean).
    """

    def __init__(self, every_n_steps: int = 500, num_samples: int = 1000, limit: float | None = 4.0) -> None:
        super().__init__(every_n_steps)
        if num_samples < 1:
            raise ValueError(f"LatentScatterCallback.num_samples must be >= 1, got {num_samples}")
        self.num_samples = num_samples
        self.limit = limit

    def setup(self, trainer, pl_module, stage: str) -> None:
        if not callable(getattr(pl_module, "encode", None)):
            raise ValueError(f"LatentScatterCallback needs a model with an encoder; {type(pl_module).__name__} has none")

    def _data(self, trainer) -> tuple[torch.Tensor, torch.Tensor | None]:
        datamodule = trainer.datamodule
        dataset = getattr(datamodule, "heldout_set", None) or getattr(datamodule, "train_set", None)
        if dataset is None:
            dataset = trainer.train_dataloader.dataset
        count = min(self.num_samples, len(dataset))
        items = [dataset[i] for i in range(count)]
        if isinstance(items[0], (tuple, list)) and len(items[0]) > 1:
            return (torch.stack([torch.as_tensor(item[0]) for item in items]),
                    torch.tensor([int(item[1]) for item in items]))
        return torch.stack([torch.as_tensor(item[0] if isinstance(item, (tuple, list)) else item) for item in items]), None

    @torch.no_grad()
    def codes(self, trainer, pl_module) -> tuple[torch.Tensor, torch.Tensor | None]:
        images, labels = self._data(trainer)
        was_training = pl_module.training
        pl_module.eval()
        try:
            chunks = []
            for start in range(0, images.size(0), 256):
                out = pl_module.encode(images[start: start + 256].to(pl_module.device))
                chunks.append((out[0] if isinstance(out, (tuple, list)) else out).float().cpu())
        finally:
            pl_module.train(was_training)
        return torch.cat(chunks), labels

    def render(self, trainer, pl_module) -> Path | None:
        if not trainer.is_global_zero:
            return None
        codes, labels = self.codes(trainer, pl_module)
        path = Path(trainer.default_root_dir) / "latents" / f"iter_{trainer.global_step:06d}.png"
        self.last_path = save_latent_scatter(codes, labels, path, title=f"codes, iteration {trainer.global_step}",
                                             limit=self.limit)
        self.log_picture(trainer, "latents", path)
        return path
