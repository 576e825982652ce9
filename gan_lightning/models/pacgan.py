"""PacGAN: Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative
adversarial networks" (NeurIPS).

Recipe: "packing": D judges ``pack`` samples at once, all real or all fake, concatenated
along the first (channel / feature) dimension, so a G that collapses modes yields packs
that are easy to tell apart. Nothing else changes: G and the loss are the base GAN's
(non-saturating), D's first layer just takes ``pack`` times the input channels.

Design: one model class with a ``base`` option instead of a wrapper around other models:
``base="gan"`` packs the fully connected networks of Goodfellow et al. 2014 (class ``GAN``),
``base="dcgan"`` the convolutional ones of Radford et al. 2015 (class ``DCGAN``, images only),
``base="auto"`` picks MLPs for vectors and DCGAN for images (``nets.build_networks``). Consecutive
samples of a batch form a pack (samples 0..p-1, p..2p-1, ...); a batch not divisible by
``pack`` drops its remainder, and a batch smaller than one pack is tiled to fill it.

Defaults: pack = 2 (the paper's PacGAN2; its tables also report 3 and 4); Adam lr 2e-4,
betas (0.5, 0.999) as in the base models' recipes. The paper's 2-D experiments (sizes used by
``experiments/pacgan/ring8.yaml`` and ``grid25.yaml``): G with 4 hidden layers of 400 units,
D with 3 hidden layers of 200, z in R^2, batch 100; those recipes keep the LeakyReLU MLP D and
the alternating updates of the other toy rows.

The authors' settings (``experiments/pacgan/grid25_authors.yaml`` / ``ring8_authors.yaml``), read in
their released code, github.com/fjxmlzn/PacGAN, ``synthetic_data_experiments/``:

- ``2DGrid_GAN&PacGAN/config.py`` (``2DRing_...`` the same but the mixture): G hidden 400, D hidden 200,
  ``disc_maxout_pieces`` 5, ``weights_init_std`` 0.02, biases 0, Adam ``learning_rate`` 1e-4 and
  ``beta1`` 0.8 (Blocks' Adam in the paper's v8 convention since blocks commit aa064519, 2017-01-24;
  beta2 its default 0.999), ``batch_size`` 100, ``num_epoch`` 400 of ``num_sample`` 100,000 points
  (400,000 iterations), z ~ N(0, I) in R^2, packing 1-4 (1 is their GAN row), 10 runs;
- ``2DGrid_GAN&PacGAN/pacgan_task.py``: G = 4 linear layers of 400 without bias, each with batch norm and
  ReLU, then a linear output with bias; D = 3 ``LinearMaxout`` layers (200 units, 5 pieces; the input is
  2 x pack wide) and a linear output, no normalisation, no dropout (``with_dropout=False``); every weight
  N(0, 0.02); the D and G gradients of one batch are applied together (IshmaelBelghazi/ALI
  ``ali/algorithms.py`` ``ali_algorithm``: both from the same weights);
- ``PacGAN/pacgan/bricks.py``: G's ``pack`` fakes are drawn with ``pack`` independent noise batches and
  concatenated along the feature dimension; D's loss softplus(-D(real)) + softplus(D(fake)), G's
  softplus(-D(fake)) (non-saturating), means over packs;
- ``PacGAN/pacgan/datasets.py`` / ``streams.py``: a batch is 100 *packs* (100 x pack real samples, each
  pack's members drawn with replacement from the 100,000 points; 100 x pack fakes), so PacGAN2 sees twice
  GAN's samples per iteration: the authors' recipes here set ``batch_size`` 100 x pack;
- ``PacGAN/pacgan/extensions.py`` ``MetricLogger``: 2,500 samples of G (batch norm in inference mode) after
  every epoch; a sample is high quality within 3 std of its nearest mode; a mode counts when it is the
  nearest of at least one high-quality sample (``benchmarks/mode_collapse.py``'s ``ModeCoverage2D``).

The options they need: ``d_maxout_pieces`` (maxout units in the MLP D), ``init_std`` (every linear weight
N(0, init_std^2), biases 0; G's hidden biases, which the authors leave out, stay 0 and are cancelled by
the batch norm that follows) and ``simultaneous`` (G's and D's gradients from the same weights: G's phase
runs first, and D's phase judges the fakes G drew before its step). Not reproduced: Blocks' batch-norm
epsilon 1e-4 (PyTorch 1e-5) and population-statistics momentum 0.05 (PyTorch 0.1), and the authors' batch
statistics per pack slot (G runs once per slot on 100 noise vectors; here once on all 100 x pack).
"""

from __future__ import annotations

from typing import Literal

import torch

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN
from gan_lightning.nets.builders import network_kind
from gan_lightning.nets.layers import normal_init_

BASE_ARCHITECTURES = {"auto": "auto", "gan": "mlp", "dcgan": "dcgan"}


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(N, C, ...) -> (N // pack, pack * C, ...): consecutive samples concatenated along dim 1.

    The last N mod pack samples are dropped; fewer than ``pack`` samples are tiled to one pack.
    """
    if pack == 1:
        return x
    if x.size(0) < pack:
        x = x.repeat((-(-pack // x.size(0)),) + (1,) * (x.dim() - 1))
    n = x.size(0) // pack * pack
    return x[:n].reshape(n // pack, pack * x.size(1), *x.shape[2:])


@register_model
class PacGAN(ShapedGAN):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Lin et al. 2018, PacGAN: The power of two samples in generative adversarial networks"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        pack: int = 2,
        base: Literal["auto", "gan", "dcgan"] = "auto",
        d_maxout_pieces: int = 0,
        init_std: float | None = None,
        simultaneous: bool = False,
        **kwargs,
    ) -> None:
        """``d_maxout_pieces`` > 0: the MLP D's hidden units are maxout units of that many pieces (the authors'
        5); ``init_std``: every linear weight of the MLP G and D drawn N(0, init_std^2), biases 0 (the authors'
        0.02; None: PyTorch's default initialisation); ``simultaneous``: G's and D's
        gradients of an iteration both from the weights before it (the authors' update), not D first."""
        super().__init__(**kwargs)
        if pack < 1:
            raise ValueError(f"model.pack must be >= 1, got {pack}")
        if base not in BASE_ARCHITECTURES:
            raise ValueError(f"model.base must be one of {', '.join(BASE_ARCHITECTURES)}; got {base!r}")
        if d_maxout_pieces < 0:
            raise ValueError(f"model.d_maxout_pieces must be >= 0 (0: LeakyReLU units), got {d_maxout_pieces}")
        if init_std is not None and not init_std > 0:
            raise ValueError(f"model.init_std must be > 0 (or null: the default initialisation), got {init_std}")
        if init_std is not None and network_kind(self.data_shape, BASE_ARCHITECTURES[base]) != "mlp":
            raise ValueError(f"model.init_std applies to the MLP networks (vector data or base: gan); base {base!r} "
                             f"on data_shape {self.data_shape} builds DCGAN's, which keep DCGAN's N(0, 0.02)")
        self.pack, self.simultaneous = pack, bool(simultaneous)
        self.generator, self.discriminator = self.shaped_networks(pack=pack,
            architecture=BASE_ARCHITECTURES[base], d_maxout_pieces=d_maxout_pieces,
        )
        if init_std is not None:
            normal_init_(self.generator, init_std)
            normal_init_(self.discriminator, init_std)

    def adversarial_phases(self, discriminator_terms, generator_terms, after_discriminator=None):
        """D then G; ``simultaneous``: G first, so that both gradients come from the weights before the
        iteration (D's phase judges the fakes G drew before its step, detached)."""
        phases = super().adversarial_phases(discriminator_terms, generator_terms, after_discriminator)
        return phases[::-1] if self.simultaneous else phases

    def discriminate(self, x, labels=None):
        """One logit per pack of ``pack`` consecutive samples, (N // pack,)."""
        return self.run_discriminator(pack_samples(x, self.pack))

    def discriminator_loss(self, real, fake, labels=None):
        real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": nonsaturating_g(self.top_k_samples(self.discriminate(fake)))}
