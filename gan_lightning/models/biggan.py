"""BigGAN: Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis" (ICLR).

The class-conditioning recipe of BigGAN at 28-32 px (networks in ``nets/biggan.py``):

- G: residual blocks with class-conditional BatchNorm whose gains and biases are linear maps of
  ``[shared class embedding, z chunk]``; a hierarchical latent (z split into one chunk for the
  first linear layer and one per G block); spectral norm on every conv and linear layer.
- D: residual blocks, global sum pooling to phi(x) and a projection output (Miyato & Koyama
  2018): ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``; spectral norm everywhere.
- Hinge loss: D ``E relu(1 - D(x, y)) + E relu(1 + D(G(z, y'), y'))``, G ``-E D(G(z, y'), y')``,
  the fake classes y' drawn uniformly (as the authors' code draws ``y_``), the real ones from the batch.
- Orthogonal regularization on G (the paper's eq. 3, the "off-diagonal" variant):
  ``beta * sum_W ||W W^T * (1 - I)||_F^2``, beta = 1e-4 (the paper's value), added to G's loss
  (logged as ``g_ortho``). Regularised: every G parameter with 2 or more axes (conv and linear
  weights, before spectral normalisation, and the conditional BN's gain/bias maps) except the
  shared class embedding, which the authors' code excludes ("it makes no sense"); 1-axis
  parameters (biases, the output BN's affine) are skipped as in ``utils.ortho``. Note: the
  authors' ``utils.ortho(G, s)`` adds the gradient of ``s / 2`` times this value, so their
  ``--G_ortho 1e-4`` is ``ortho_beta: 5e-5`` here; their released launch scripts (CIFAR and
  ImageNet) set ``--G_ortho 0.0``.
- Truncation: ``sample(..., truncation=t)`` / ``gan-lightning sample --truncation t`` redraws
  every entry of z with |z| > t, over the whole vector and so over every hierarchical chunk; the
  class embedding is not truncated (the paper's truncation trick).

Optimiser (``recipe``): the authors' CIFAR-10 script (``scripts/launch_cifar_ema.sh``, the
authors' 32 px setting): Adam lr 2e-4 for G and D, betas (0, 0.999) (their ``G_B1``/``D_B1`` 0,
``B2`` 0.999), 4 D steps per G step, batch 50. The paper's 128 px ImageNet recipe is G 5e-5 / D
2e-4 with 2 D steps (``--lr_g 5e-5 --critic_steps 2``). EMA of G is the ``EMACallback``'s job;
the authors use decay 0.9999 from iteration 20,000 (ImageNet; 1,000 on CIFAR). The fake samples
of an iteration are shared by its D and G phases (the authors draw fresh z and y' for G).

Defaults: ``latent_dim`` 128 (the authors' ``dim_z``; 4 chunks of 32 at 32 px, 3 of ~42 at 28 px
needs a multiple of 3, e.g. 120), ``shared_dim`` 128 (the authors' ImageNet scripts),
``g_width``/``d_width`` 64 (their ``ch``; 256 channels per block), ``init`` ``ortho`` (orthogonal
weights: the authors' ``G_init``/``D_init`` default in ``utils.py`` and their ImageNet scripts).

Initialisation and width (issue 26): under spectral norm only a weight's direction counts, and Adam
moves each entry by about ``lr`` per step, so the relative step is ``lr / rms(W)``. Orthogonal
weights have entries of rms ``1 / sqrt(max(fan_out, fan_in))``: at the authors' 32 px width (256
channels) a 3x3 conv's is 0.021, about N(0, 0.02)'s; at the CPU config's width 8 (32 channels) D's
median is 0.059 (0.18 for its first conv and its class embedding) and G's 0.125, a 3-9x smaller
relative step than with N(0, 0.02) weights. With it D's
projection did not learn the classes in 1,000 iterations (held-out real digits scored higher with
their true label than with a wrong one 60 % of the time, 0.5 = ignored) and G drew the asked digit
at chance; with ``init: N02``, the authors' CIFAR script's ``--G_init N02 --D_init N02``, D tells the
labels apart on 98 % (benchmarks/RESULTS.md, section ``biggan_probe``). ``experiments/biggan/
mnist5k.yaml`` therefore sets ``init: N02``. Not from the CIFAR script: ``shared_dim``/
``hierarchical`` (their ImageNet scripts; the CIFAR script has per-class BN embeddings and one z) and
``ortho_beta`` (the paper's 1e-4; the scripts set ``--G_ortho 0.0``).
Not taken: self-attention (off in the authors' CIFAR script), BN standing statistics, and the
authors' SN epsilon (1e-8 / 1e-6; torch's 1e-12 here).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gan_lightning.core import StepContext
from gan_lightning.losses import hinge_d, hinge_g, orthogonal_regularization
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import LabelConditioned
from gan_lightning.nets.biggan import BigGANDiscriminator, BigGANGenerator


@register_model
class BigGAN(LabelConditioned):
    paper = "Brock, Donahue & Simonyan 2019, Large Scale GAN Training for High Fidelity Natural Image Synthesis"
    data_kinds = ("image",)
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.0, 0.999), "critic_steps": 4}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 32, 32),
        latent_dim: int = 128,
        num_classes: int = 10,
        g_width: int = 64,
        d_width: int = 64,
        shared_dim: int = 128,
        hierarchical: bool = True,
        ortho_beta: float = 1e-4,
        init: str = "ortho",
        **kwargs,
    ) -> None:
        """``hierarchical``: split z over the first linear and the G blocks (False: all of z into the
        linear, the blocks' BN see the class embedding only). ``ortho_beta``: weight of the orthogonal
        regularization of G (0: off). ``init``: the weights' initialisation in G and D, ``ortho``
        (orthogonal) or ``N02`` (N(0, 0.02)), the authors' ``G_init``/``D_init``."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"model.data_shape {self.data_shape}: BigGAN needs square images (C, H, H)")
        if num_classes < 1:
            raise ValueError(f"model.num_classes must be >= 1, got {num_classes}")
        if ortho_beta < 0:
            raise ValueError(f"model.ortho_beta must be >= 0, got {ortho_beta}")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.num_classes = num_classes
        self.ortho_beta = float(ortho_beta)
        self.generator = BigGANGenerator(latent_dim, num_classes, channels, size, g_width, shared_dim, hierarchical,
                                         init=init)
        self.discriminator = BigGANDiscriminator(channels, num_classes, size, d_width, init=init)

    # ------------------------------------------------------------------ networks
    def discriminate(self, x, labels=None):
        return self.run_discriminator(x, self.resolve_labels(self.batch_labels(labels), x.size(0), x.device))

    def ortho_parameters(self) -> list[nn.Parameter]:
        """G's parameters under orthogonal regularization: 2+ axes, the shared class embedding excluded."""
        shared = {id(p) for p in self.generator.shared.parameters()}
        return [p for p in self.generator.parameters() if p.dim() >= 2 and id(p) not in shared]

    def orthogonal_penalty(self) -> torch.Tensor:
        """beta * sum ||W W^T * (1 - I)||_F^2 over ``ortho_parameters()`` (the paper's eq. 3)."""
        return self.ortho_beta * orthogonal_regularization(self.ortho_parameters())

    def sample_noise(self, num, rng=None, truncation=None):
        """z ~ N(0, I) of size ``latent_dim`` (every hierarchical chunk); with ``truncation`` t every entry
        with |z| > t is redrawn, so the first linear's chunk and each block's chunk are truncated alike."""
        z = super().sample_noise(num, rng=rng, truncation=truncation)
        assert z.shape[1] == self.generator.chunk_dim * self.generator.num_chunks
        return z

    # ------------------------------------------------------------------ the iteration
    def prepare_step(self, ctx: StepContext) -> None:
        """The real labels from the batch; the fakes' classes y' uniform, as the authors' ``y_``."""
        ctx.labels = self.batch_labels(ctx.labels)
        ctx.z = self.sample_noise(ctx.batch_size)
        ctx.fake_labels = torch.randint(0, self.num_classes, (ctx.batch_size,), device=self.device)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.generate(ctx.z, ctx.fake_labels)

    def phases(self):
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_out = self.discriminate(ctx.real, ctx.labels)
        fake_out = self.discriminate(ctx.fake.detach(), ctx.fake_labels)
        return {"d_loss": hinge_d(real_out, fake_out), "d_real": real_out.mean(), "d_fake": fake_out.mean()}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        adversarial = hinge_g(self.discriminate(ctx.fake, ctx.fake_labels))
        if self.ortho_beta == 0:
            return {"g_loss": adversarial, "g_adv": adversarial}
        ortho = self.orthogonal_penalty()
        return {"g_loss": adversarial + ortho, "g_adv": adversarial, "g_ortho": ortho.detach()}
