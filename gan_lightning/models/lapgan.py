"""LAPGAN: Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a Laplacian
Pyramid of Adversarial Networks" (NeurIPS); the authors' code: facebook/eyescream (Torch).

Recipe (section 3 of the paper): an image is its Laplacian pyramid, the coarsest image I_K and the
band-pass residuals h_k = I_k - u(I_{k+1}) (u: upsampling), and there is one conditional GAN per
level. The coarsest G draws I_K from noise; each finer G_k draws the residual h_k from a noise map
given the upsampled coarser image u(I_{k+1}), and its D_k judges u(I_{k+1}) + h_k. The levels are
trained **independently**: G_k's coarser image is the *real* one (the pyramid of the training
image), so no gradient passes between levels; each level has its own D/G pair, optimizers and
phases (``D{k}``, ``G{k}`` for k from the coarsest level K down to 0, the finest; optimizers
``discriminator{k}`` / ``generator{k}``). Sampling chains the levels from the coarsest:
I_K = G_K(z), I_k = u(I_{k+1}) + G_k(noise_k, u(I_{k+1})). Class-conditional, as the paper's
CIFAR-10 models (``train_cifar_classcond.lua``, ``train_cifar_coarse_to_fine_classcond.lua``):
every G and D sees the class.

Defaults and where they come from:

- the pyramid: 28 -> 14 -> 7 px (``levels`` 3) on the digits as shipped, 2x2 average pooling
  down, bilinear x2 up. The paper's CIFAR-10 pyramid is 32 -> 16 -> 8; padding the 28 px digits to
  32 would make every level learn 2 px of constant border, while 28 halves twice exactly, so we
  keep 28 (32 px data gives the paper's 32 -> 16 -> 8 with the same code). eyescream downsamples
  and upsamples with ``image.scale`` (``datasets/coarse_to_fine_cifar10.lua``: ``makeCoarse``,
  ``makeDiff``); our u is the same kind of bilinear map, and d is 2x2 averaging so that the
  reconstruction sum_k u^k(h_k) = image holds exactly (``nets/pyramid.py``);
- the finer levels' networks: ``scripts/train_cifar_coarse_to_fine_classcond.lua``: G's input is a
  one-channel noise map at the level's size, the class as a map (``Linear(10, H*W)``, ReLU) and the
  coarser image, then convolutions 7x7, 7x7, 5x5 (same padding, ReLU, ``hidden_G`` 64 channels, no
  output non-linearity: a residual); D's input is coarse + residual with the class map, conv 5x5,
  conv 5x5 stride 2, ReLU, dropout, linear, sigmoid (``hidden_D`` 64) (``g_width`` / ``d_width``);
- the coarsest level: ``scripts/train_cifar_classcond.lua`` uses MLPs on [z, one-hot y] (G: two
  ReLU layers of ``hidden_G`` 8000 units at CIFAR 8 px; D: two ReLU + dropout layers of 1600). We
  use the project's label-concatenating MLPs (``nets/conditional.py``: the label at every layer,
  BatchNorm + softplus in G, tanh output) at ``g_hidden`` / ``d_hidden`` (512, 512) for 7 px digits;
- the loss: binary cross-entropy (``nn.BCECriterion`` in ``train/double_conditional_adversarial.lua``)
  with the non-saturating G loss; one D step per G step (``--K 1``); noise z of 100 (``--noiseDim``);
- **not the authors'**: the optimiser. eyescream trains with SGD, lr 0.02, momentum ramped from 0 to
  0.7 (+0.0008 per epoch) and lr / 1.00004 per epoch, batch 128; the core has no momentum ramp, and
  we use the DCGAN optimiser (Adam 2e-4, betas (0.5, 0.999)) as our other digit models do, so that
  the comparison with a single-scale DCGAN of the same size differs only in the pyramid; the
  noise is N(0, I), not eyescream's U(-1, 1).

G's noise is one vector (``sample(noise=...)``): the coarsest level's z (``latent_dim``) followed by
each finer level's noise map, flattened, finest first; ``self.latent_dim`` is its full length.
The sample grid shows every sample as its levels side by side, coarsest first (its declared
``stages()``, drawn by ``generate_stages``).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import LabelConditioned
from gan_lightning.nets.conditional import LabelConcatDiscriminator, LabelConcatGenerator
from gan_lightning.nets.pyramid import BandDiscriminator, BandGenerator, gaussian_pyramid, upsample


@register_model
class LAPGAN(LabelConditioned):
    """Laplacian pyramid of class-conditional GANs, one D/G pair per level, levels trained independently.

    Args:
        latent_dim: the coarsest level's noise z (the finer levels' noise maps come after it in G's noise).
        num_classes: classes of the labels (10 digits).
        levels: pyramid levels; the data's size must halve ``levels - 1`` times, and every level but the
            coarsest be at least 14 px (28 px: 28 -> 14 -> 7).
        g_width / d_width: channels of the finer levels' G and D.
        g_hidden / d_hidden: hidden widths of the coarsest level's MLP G and D.
    """

    smooths_real_labels = True  # every D is trained with binary cross-entropy: label_smoothing applies
    paper = ("Denton, Chintala, Szlam & Fergus 2015, Deep Generative Image Models using a Laplacian Pyramid of "
             "Adversarial Networks")
    data_kinds = ("image",)
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        num_classes: int = 10,
        levels: int = 3,
        g_width: int = 64,
        d_width: int = 64,
        g_hidden: Sequence[int] = (512, 512),
        d_hidden: Sequence[int] = (512, 512),
        **kwargs,
    ) -> None:
        shape = tuple(int(d) for d in data_shape)
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"model.data_shape: LAPGAN draws square images (C, H, H), got {shape}")
        if levels < 2:
            raise ValueError(f"model.levels must be >= 2 (a pyramid of one level is a plain GAN), got {levels}")
        if shape[1] % 2 ** (levels - 1):
            raise ValueError(f"model.levels: {levels} levels halve the size {levels - 1} times; {shape[1]} px does "
                             f"not divide by {2 ** (levels - 1)}")
        sizes = [shape[1] // 2 ** k for k in range(levels)]
        if sizes[-2] < 14:
            raise ValueError(f"model.levels: every level but the coarsest needs >= 14 px; {levels} levels of "
                             f"{shape[1]} px are {sizes}")
        if num_classes < 1:
            raise ValueError(f"model.num_classes must be >= 1, got {num_classes}")
        self.code_dim, self.sizes = int(latent_dim), sizes
        noise_length = latent_dim + sum(size * size for size in sizes[:-1])
        super().__init__(data_shape=shape, latent_dim=noise_length, **kwargs)
        self.num_classes, self.levels = num_classes, levels
        channels, coarsest = shape[0], sizes[-1]
        self.generator = nn.ModuleDict({f"level{k}": BandGenerator(channels, sizes[k], num_classes, g_width)
                                        for k in range(levels - 1)})
        self.generator[f"level{levels - 1}"] = LabelConcatGenerator(latent_dim, num_classes,
                                                                    (channels, coarsest, coarsest), g_hidden)
        self.discriminator = nn.ModuleDict({f"level{k}": BandDiscriminator(channels, sizes[k], num_classes, d_width)
                                            for k in range(levels - 1)})
        self.discriminator[f"level{levels - 1}"] = LabelConcatDiscriminator(
            (channels, coarsest, coarsest), num_classes, d_hidden, input_noise=0.0, hidden_noise=0.0)

    # ------------------------------------------------------------------ noise and sampling
    def split_noise(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(the coarsest level's z, [noise map of level 0, 1, ...]) of G's noise vectors."""
        code, start, maps = z[:, :self.code_dim], self.code_dim, []
        for size in self.sizes[:-1]:
            maps.append(z[:, start:start + size * size].reshape(-1, 1, size, size))
            start += size * size
        return code, maps

    def level_image(self, k: int, net: nn.Module, noise: torch.Tensor, labels: torch.Tensor,
                    coarser: torch.Tensor | None) -> torch.Tensor:
        """Level k's image: G_K(z, y) at the coarsest level, else u(coarser) + G_k(noise map, y, u(coarser))."""
        if k == self.levels - 1:
            return net[f"level{k}"](noise, labels)
        coarse = upsample(coarser)
        return coarse + net[f"level{k}"](noise, labels, coarse)

    def stages(self) -> tuple[str, ...]:
        """The pyramid's levels, coarsest first: each a stage of the sample grid."""
        return tuple(f"level {k} ({self.data_shape[-1] >> k} px)" for k in reversed(range(self.levels)))

    def generate_stages(self, z, labels=None, net=None, conditions=None) -> tuple[torch.Tensor, ...]:
        """Every level's image of the chained sampler, coarsest first (the last one is the sample)."""
        net = net or self.generator
        labels = self.resolve_labels(labels, z.size(0), z.device)
        code, maps = self.split_noise(z)
        stages = [self.level_image(self.levels - 1, net, code, labels, None)]
        for k in reversed(range(self.levels - 1)):
            stages.append(self.level_image(k, net, maps[k], labels, stages[-1]))
        return tuple(stages)

    def generate(self, z, labels=None, net=None, conditions=None):
        return self.generate_stages(z, labels, net)[-1]

    def discriminate(self, x, labels=None):
        """The finest level's D on full-size images (held-out scores)."""
        return self.level_discriminate(0, x, self.resolve_labels(self.batch_labels(labels), x.size(0), x.device))

    def level_discriminate(self, k: int, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.run_discriminator(images, labels, method=f"level{k}")

    # ------------------------------------------------------------------ training
    def optimizer_groups(self):
        groups = {}
        for k in reversed(range(self.levels)):
            groups[f"generator{k}"] = self.generator[f"level{k}"].parameters()
            groups[f"discriminator{k}"] = self.discriminator[f"level{k}"].parameters()
        return groups

    def prepare_step(self, ctx: StepContext) -> None:
        """The real pyramid, then each level's fake from the *real* coarser image (independent levels),
        with G_k's graph only when phase ``G{k}`` runs."""
        ctx.labels = self.batch_labels(ctx.labels)
        ctx.pyramid = gaussian_pyramid(ctx.real, self.levels)
        ctx.z = self.sample_noise(ctx.batch_size)
        code, maps = self.split_noise(ctx.z)
        ctx.fakes = []
        for k in range(self.levels):
            with torch.set_grad_enabled(ctx.runs(f"G{k}")):
                coarser = ctx.pyramid[k + 1] if k + 1 < self.levels else None
                noise = code if k == self.levels - 1 else maps[k]
                ctx.fakes.append(self.level_image(k, self.generator, noise, ctx.labels, coarser))

    def discriminator_terms(self, k: int):
        def terms(ctx: StepContext) -> dict[str, torch.Tensor]:
            real_logits = self.level_discriminate(k, ctx.pyramid[k], ctx.labels)
            fake_logits = self.level_discriminate(k, ctx.fakes[k].detach(), ctx.labels)
            return {f"d{k}_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                    f"d{k}_real": real_logits.detach().mean(), f"d{k}_fake": fake_logits.detach().mean()}
        return terms

    def generator_terms(self, k: int):
        def terms(ctx: StepContext) -> dict[str, torch.Tensor]:
            return {f"g{k}_loss": nonsaturating_g(self.level_discriminate(k, ctx.fakes[k], ctx.labels))}
        return terms

    def phases(self) -> list[Phase]:
        """One D/G pair per level, coarsest first: ``D{k}`` every batch, ``G{k}`` every ``critic_steps``-th."""
        phases = []
        for k in reversed(range(self.levels)):
            phases += [Phase(f"D{k}", f"discriminator{k}", self.discriminator_terms(k)),
                       Phase(f"G{k}", f"generator{k}", self.generator_terms(k), interval=self.critic_steps)]
        return phases
