"""CycleGAN: Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks" (ICCV).

Recipe: two generators, G: A -> B (``generator``) and F: B -> A (``generator_ba``), and two
PatchGAN discriminators, D_B on domain B (``discriminator``) and D_A on domain A
(``discriminator_a``), trained on unpaired images. G's loss: the two LSGAN terms, the cycle terms
lambda_A |F(G(a)) - a|_1 + lambda_B |G(F(b)) - b|_1, and the identity terms
lambda_identity * (lambda_B |G(b) - b|_1 + lambda_A |F(a) - a|_1).

Defaults, from the paper (section 4, appendix 7) and the authors' code
(junyanz/pytorch-CycleGAN-and-pix2pix, ``models/cycle_gan_model.py``, ``options/train_options.py``):
- ResNet generators with InstanceNorm and reflection padding: 6 residual blocks for images of
  128 px or less, 9 for 256 px (``num_blocks=None`` picks by size); widths 64;
- 70x70 PatchGAN discriminators with InstanceNorm (``netD basic``, ``n_layers_D`` 3);
- LSGAN loss (``gan_mode='lsgan'``: MSE to 1 for real, 0 for fake; G's term is MSE(D(G(a)), 1)
  with no 1/2), each D's loss (real + fake) x 0.5;
- lambda_A = lambda_B = 10, identity 0.5 (the identity weight is 0.5 x lambda, the authors'
  convention for ``lambda_identity``);
- an image pool of 50 past fakes per domain feeds the discriminators (Shrivastava et al. 2017);
  the pools are training state, saved in the checkpoint;
- one Adam over both generators (group ``generator``), one over both discriminators
  (``discriminator``), lr 2e-4, betas (0.5, 0.999); G updated before D in every iteration;
- LR constant for 100 epochs, then linear decay to 0 over 100 more: the core's per-iteration
  ``lr_decay_iters`` set to half of ``trainer.max_steps`` (the authors decay per epoch,
  ``1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1)``; one iteration here plays the
  role of one epoch there).

``translate(images, "AtoB")`` uses G, ``"BtoA"`` uses F. InstanceNorm keeps no running
statistics and there is no dropout, so train and eval mode give the same outputs.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core import Phase, ReplayPool, StepContext
from gan_lightning.losses import lsgan_d
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import TwoWayTranslation
from gan_lightning.nets.translation import Norm, PatchDiscriminator, ResnetGenerator


@register_model
class CycleGAN(TwoWayTranslation, GANModule):
    """CycleGAN (Zhu et al. 2017): two ResNet generators, two PatchGANs, LSGAN + cycle + identity.

    Args:
        data_shape: (C, H, W) of both domains.
        g_width, d_width: base widths (ngf, ndf: 64).
        num_blocks: residual blocks per generator; None: 6 up to 128 px, 9 above (the paper).
        norm: normalisation of all four networks (``instance``).
        patch_size: PatchGAN receptive field (70).
        lambda_a, lambda_b: weights of the A -> B -> A and B -> A -> B cycle terms (10, 10).
        lambda_identity: identity weight as a fraction of lambda (0.5; 0 turns the term off).
        pool_size: past fakes kept per domain for the discriminators (50; 0: no pool).
    """

    paper = "Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"
    # a paired set can be used as well: its pairing enters no loss (a and b only share a batch)
    data_kinds = ("unpaired", "paired")
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        g_width: int = 64,
        d_width: int = 64,
        num_blocks: int | None = None,
        norm: Norm = "instance",
        patch_size: Literal[1, 16, 70, 286] = 70,
        lambda_a: float = 10.0,
        lambda_b: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        if min(lambda_a, lambda_b, lambda_identity) < 0:
            raise ValueError(f"CycleGAN: lambda_a, lambda_b and lambda_identity must be >= 0, "
                             f"got {lambda_a}, {lambda_b}, {lambda_identity}")
        if len(self.data_shape) != 3:
            raise ValueError(f"CycleGAN needs images (C, H, W), got data_shape {self.data_shape}")
        channels, size = self.data_shape[0], min(self.data_shape[1:])
        if size % 4:
            raise ValueError(f"CycleGAN's generator halves the image twice: H and W must be multiples of 4, "
                             f"got {tuple(self.data_shape[1:])}")
        self.num_blocks = num_blocks if num_blocks is not None else (6 if max(self.data_shape[1:]) <= 128 else 9)
        self.lambda_a, self.lambda_b, self.lambda_identity = float(lambda_a), float(lambda_b), float(lambda_identity)
        self.generator = ResnetGenerator(channels, channels, g_width, self.num_blocks, norm=norm)
        self.generator_ba = ResnetGenerator(channels, channels, g_width, self.num_blocks, norm=norm)
        self.discriminator = PatchDiscriminator(channels, d_width, patch_size, norm)
        self.discriminator_a = PatchDiscriminator(channels, d_width, patch_size, norm)
        self.discriminator.check_image_size(size)
        self.pool_a = self.training_state.declare("pool_a", ReplayPool(pool_size, seed=0))  # past F(b), for D_A
        self.pool_b = self.training_state.declare("pool_b", ReplayPool(pool_size, seed=1))  # past G(a), for D_B

    # ------------------------------------------------------------------ training
    def optimizer_groups(self):
        return {"generator": [*self.generator.parameters(), *self.generator_ba.parameters()],
                "discriminator": [*self.discriminator.parameters(), *self.discriminator_a.parameters()]}

    def phases(self) -> list[Phase]:
        """G (both generators) first, then D (both discriminators), as the authors' ``optimize_parameters``."""
        return [Phase("G", "generator", self.generator_terms),
                Phase("D", "discriminator", self.discriminator_terms)]

    def prepare_step(self, ctx: StepContext) -> None:
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake_b, ctx.fake_a = self.generator(ctx.a), self.generator_ba(ctx.b)

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        out_b = self.run_discriminator(ctx.fake_b)
        out_a = self.run_discriminator(ctx.fake_a, net="discriminator_a")
        gan_b = F.mse_loss(out_b, torch.ones_like(out_b))  # LSGAN, the authors' GANLoss('lsgan')
        gan_a = F.mse_loss(out_a, torch.ones_like(out_a))
        cycle_a = F.l1_loss(self.generator_ba(ctx.fake_b), ctx.a)
        cycle_b = F.l1_loss(self.generator(ctx.fake_a), ctx.b)
        loss = gan_a + gan_b + self.lambda_a * cycle_a + self.lambda_b * cycle_b
        terms = {"g_gan_a": gan_a, "g_gan_b": gan_b, "cycle_a": cycle_a, "cycle_b": cycle_b}
        if self.lambda_identity > 0:
            identity_b = F.l1_loss(self.generator(ctx.b), ctx.b)  # G leaves B images as they are
            identity_a = F.l1_loss(self.generator_ba(ctx.a), ctx.a)
            loss = loss + self.lambda_identity * (self.lambda_b * identity_b + self.lambda_a * identity_a)
            terms.update(identity_a=identity_a, identity_b=identity_b)
        terms["g_loss"] = loss
        return terms

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        fake_b, fake_a = self.pool_b.query(ctx.fake_b), self.pool_a.query(ctx.fake_a)
        d_b = lsgan_d(self.run_discriminator(ctx.b), self.run_discriminator(fake_b))  # (real + fake) x 0.5
        d_a = lsgan_d(self.run_discriminator(ctx.a, net="discriminator_a"),
                      self.run_discriminator(fake_a, net="discriminator_a"))
        return {"d_loss": d_a + d_b, "d_a": d_a, "d_b": d_b}

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: Literal["AtoB", "BtoA"] = "AtoB") -> torch.Tensor:
        """G(images) for ``"AtoB"``, F(images) for ``"BtoA"``, in [-1, 1]."""
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        net = self.generator if direction == "AtoB" else self.generator_ba
        return net(images.to(self.device))
