"""EBGAN: Zhao, Mathieu & LeCun 2016, "Energy-based Generative Adversarial Network" (ICLR 2017).

Recipe: D is an autoencoder whose reconstruction error is an energy, low on real data and
high on fakes. D minimises E D(x) + E relu(m - D(G(z))) (fakes are pushed up to the margin
m, no further); G minimises E D(G(z)) plus the pull-away term (EBGAN-PT),
weight * mean_{i != j} cos^2(s_i, s_j) over the encoder codes s of a batch of fakes, which
penalises codes that point the same way (mode collapse).

Defaults: pull-away weight 0.1 (the paper's). The energy here is the per-sample mean squared
error (averaged over pixels / coordinates), so the paper's margins, tuned per data set for its
summed error (the authors released no code), do not carry over; the margin is ours, per kind of
data (``margin=None``): 0.1 for images in [-1, 1], 1.0 for vectors. On the 2-D mixtures (ring of
radius 1, grid spacing 2) 1.0 asks for a reconstruction error of about 1.4 in distance, comparable
to the spacing of the modes. On images 1.0 asks D to reconstruct every fake with pixels off by 1
(half the range) in the mean square: on MNIST5k at 1,500 iterations D got there (fake energy 0.963,
real 0.031) and G drew one grey texture for every z (digits FID 875.7); at 0.3 blobs (608.9), at 0.1
digits of all ten classes (57.2; fake energy 0.127, real 0.016), at 0.03 all ten, rougher (131.8), one seed each (issue 26,
benchmarks/RESULTS.md section ``ebgan_margin``, ``benchmarks/ebgan_margin.py``). Adam lr 2e-4,
betas (0.5, 0.999) and one D step per G step follow the DCGAN recipe the paper builds on
(it grid-searched its optimiser settings). D: ``nets.build_autoencoder`` (a convolutional
autoencoder with BatchNorm and LeakyReLU for images, an MLP one for vectors, code size
``code_dim``); G: the DCGAN generator or an MLP.

``discriminate`` returns the energy of each sample, so the held-out ``d_real`` / ``d_fake``
are mean energies (lower = judged more real).
"""

from __future__ import annotations

import torch

from gan_lightning.losses import ebgan_d, ebgan_g, pullaway
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN
from gan_lightning.nets import build_autoencoder, network_kind


@register_model
class EBGAN(ShapedGAN):
    paper = "Zhao, Mathieu & LeCun 2016, Energy-based Generative Adversarial Network"
    data_kinds = ("image", "toy2d")
    minibatch_discrimination_applies = False  # D is an autoencoder, not the shared discriminator

    def __init__(
        self,
        code_dim: int = 64,
        margin: float | None = None,
        pullaway_weight: float = 0.1,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if margin is None:  # ours, per kind of data (see the docstring)
            margin = 0.1 if network_kind(self.data_shape) == "dcgan" else 1.0
        if margin <= 0:
            raise ValueError(f"model.margin must be > 0, got {margin}")
        self.margin = margin
        self.pullaway_weight = pullaway_weight
        self.generator = self.shaped_generator()
        self.discriminator = build_autoencoder(self.data_shape, self.d_hidden, self.d_width, code_dim, self.d_norm,
                                               "leaky_relu")

    def energy_and_code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample energy (mean squared reconstruction error), (N,), and the encoder's code, (N, code_dim)."""
        code, seen = self.run_discriminator(x, method="encode", with_input=True)
        energy = (self.discriminator.decode(code) - seen).pow(2).flatten(1).mean(dim=1)
        return energy, code

    def discriminate(self, x, labels=None):
        return self.energy_and_code(x)[0]

    def discriminator_loss(self, real, fake, labels=None):
        real_energy, fake_energy = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": ebgan_d(real_energy, fake_energy, self.margin),
                "energy_real": real_energy.mean(), "energy_fake": fake_energy.mean()}

    def generator_loss(self, real, fake, labels=None):
        energy, code = self.energy_and_code(fake)
        terms = {"g_loss": ebgan_g(energy)}
        if self.pullaway_weight:
            repel = pullaway(code)
            terms["g_loss"] = terms["g_loss"] + self.pullaway_weight * repel
            terms["pullaway"] = repel
        return terms
