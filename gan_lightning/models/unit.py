"""UNIT: Liu, Breuel & Kautz 2017, "Unsupervised Image-to-Image Translation Networks" (NeurIPS).

The shared-latent-space assumption: a pair of corresponding images x_A, x_B has one code z in a
latent space both domains share. Two VAE encoders E_A, E_B map images to z, two generators G_A,
G_B map z back to images, two discriminators D_A, D_B judge each domain. Weight sharing ties
the domains: the **last layers of E_A and E_B are the same layers** (the same parameters), and
so are the **first layers of G_A and G_B**. A -> B translation is G_B(E_A(x)).

Each encoder outputs the mean mu of a Gaussian with unit variance, z = mu + eps, eps ~ N(0, I)
(the reparameterization; the authors' reduced VAE fixes the variance), so the KL term against
N(0, I) is ||mu||^2 up to scale: the authors' code takes its mean over entries, as here.
Training objective, per domain (the paper's Eq. 2-5):
- VAE: lambda1 KL(q(z|x_A)) + lambda2 ||G_A(z_A) - x_A||_1 (and the same for B);
- GAN: lambda0 (the non-saturating BCE loss on D_B(G_B(z_A)), and on D_A(G_A(z_B)));
- cycle consistency (L_CC): lambda3 KL(q(z|G_B(z_A))) + lambda4 ||G_A(E_B(G_B(z_A))) - x_A||_1.

Defaults: the paper's weights lambda0 = 10 (``gan_weight``), lambda1 = lambda3 = 0.1
(``kl_weight``, ``cycle_kl_weight``), lambda2 = lambda4 = 100 (``reconstruction_weight``,
``cycle_weight``), as in the authors' NeurIPS code (branch ``version_02``, ``exps/unit/*.yaml``:
gan_w 10, kl_direct_link_w 0.1, ll_direct_link_w 100, kl_cycle_link_w 0.1, ll_cycle_link_w
100; the loss in ``src/trainers/cocogan_trainer.py``, BCE on sigmoid outputs). The authors' later
code (``master``: ``trainer.py`` ``UNIT_Trainer``, ``configs/unit_*.yaml``) uses the same weights
divided by 10 (gan_w 1, recon_kl_w 0.01, recon_x_w 10, recon_kl_cyc_w 0.01, recon_x_cyc_w 10)
with an LSGAN loss: ``gan_loss="lsgan"`` is its formula as written in ``networks.py``
(``MsImageDis.calc_dis_loss``: mean(D(fake)^2) + mean((D(real) - 1)^2); ``calc_gen_loss``:
mean((D(fake) - 1)^2); no 1/2), so ``gan_weight`` is their gan_w. ``cycle_weight = 0`` turns off
the whole L_CC (its reconstruction and its KL term): the benchmark's "without cycle" baseline.

Which objective the digits experiment uses, and why (issue 26): with ``version_02``'s BCE objective
and weights, the 32 px MNIST -> inverted MNIST run collapses to one output for every input once D
wins (label preservation 57 % at iteration 150, 13 % at 200 and 20 % at 400 in a diagnostic run,
the per-pixel spread of the translations 0.03; 10.1 % at 1,000 in the benchmark), and so does the
same run at the authors' width 64 with 3 private blocks (77 % at 50, 12 % at 200 and 250, spread
0.04). With ``master``'s LSGAN objective and weights on the same networks the translations keep the
digit (benchmark, 1,000 iterations: label preservation 74.4 % with the cycle terms; without them
one output for every input again, 8.0 %). No line of this file differs from ``version_02``'s loss;
``experiments/unit/digits_inverted.yaml`` takes ``master``'s objective. What still differs from
``master``: one D scale (it has 3, with average pooling between them, 4x4 convs, LeakyReLU 0.2,
reflection padding), the shared layers (``master`` shares none), its decoder (nearest upsampling,
5x5 conv and LayerNorm; 4 residual blocks), Kaiming initialisation of G, batch 1 and a halving of
the rate every 100k iterations.

Networks (``version_02``'s ``COCOResGen`` / ``COCODis``): E = a 7x7 conv with LeakyReLU, two
stride-2 3x3 convs with InstanceNorm and ReLU, ``private_blocks`` = 3 residual blocks, then
``shared_blocks`` = 1 residual block shared by E_A and E_B; G = ``shared_blocks`` = 1 residual
block shared by G_A and G_B, then 3 private residual blocks, two stride-2 transposed convs with
InstanceNorm and ReLU, a 1x1 transposed conv and tanh. Width 64. D = ``d_layers`` stride-2 3x3
convs with LeakyReLU and no normalisation, then a 1x1 conv to a map of logits (6 layers at the
authors' 216 px; 4 here by default, for 32 px). N(0, 0.02) initialisation. Optimizers (both
codes): Adam lr 1e-4, betas (0.5, 0.999), weight decay 1e-4; D then G on every batch.

``translate(images, direction)`` is G_B(mu_A) (``"AtoB"``) or G_A(mu_B) (``"BtoA"``): the mean
of the latent, no noise; InstanceNorm keeps no running statistics, so the result does not
depend on the mode or on the other images of the batch.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core import StepContext
from gan_lightning.losses import lsgan_d, lsgan_g, nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import TwoWayTranslation
from gan_lightning.nets.unpaired import UNITDiscriminators, UNITNetworks


def latent_kl(mu: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, I) || N(0, I)) up to scale: the mean of mu^2 (the authors' reduced VAE)."""
    return mu.pow(2).mean()


@register_model
class UNIT(TwoWayTranslation, GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Liu, Breuel & Kautz 2017, Unsupervised Image-to-Image Translation Networks"
    data_kinds = ("unpaired",)
    recipe = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.999), "weight_decay": 1e-4}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        g_width: int = 64,
        d_width: int = 64,
        downsampling: int = 2,
        private_blocks: int = 3,
        shared_blocks: int = 1,
        d_layers: int = 4,
        gan_loss: Literal["bce", "lsgan"] = "bce",
        gan_weight: float = 10.0,
        kl_weight: float = 0.1,
        reconstruction_weight: float = 100.0,
        cycle_kl_weight: float = 0.1,
        cycle_weight: float = 100.0,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        if gan_loss not in ("bce", "lsgan"):
            raise ValueError(f"model.gan_loss must be 'bce' or 'lsgan', got {gan_loss!r}")
        if shared_blocks < 1:
            raise ValueError(f"model.shared_blocks must be >= 1 (UNIT's shared latent space), got {shared_blocks}")
        channels, size = self.data_shape[0], self.data_shape[-1]
        if size % 2**downsampling or size // 2**d_layers < 1:
            raise ValueError(f"UNIT: a {size} px image needs size divisible by 2^downsampling = {2**downsampling} "
                             f"and at least 2^d_layers = {2**d_layers} px")
        weights = dict(gan_weight=gan_weight, kl_weight=kl_weight, reconstruction_weight=reconstruction_weight,
                       cycle_kl_weight=cycle_kl_weight, cycle_weight=cycle_weight)
        for name, value in weights.items():
            if value < 0:
                raise ValueError(f"model.{name} must be >= 0, got {value}")
        self.gan_loss = gan_loss
        if gan_loss == "lsgan" and self.label_smoothing is not None:
            raise ValueError("model.label_smoothing applies to UNIT's bce objective, not to gan_loss 'lsgan'")
        self.gan_weight, self.kl_weight, self.reconstruction_weight = gan_weight, kl_weight, reconstruction_weight
        self.cycle_kl_weight, self.cycle_weight = cycle_kl_weight, cycle_weight
        self.generator = UNITNetworks(channels, g_width, downsampling, private_blocks, shared_blocks)
        self.discriminator = UNITDiscriminators(channels, d_width, d_layers)

    # ------------------------------------------------------------------ losses
    def sample_latent(self, mu: torch.Tensor) -> torch.Tensor:
        """z = mu + eps, eps ~ N(0, I) (the reparameterization with the authors' unit variance)."""
        return mu + torch.randn_like(mu)

    def prepare_step(self, ctx: StepContext) -> None:
        """Encode both domains, draw z, translate across (and reconstruct within, for G)."""
        nets = self.generator
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.mu_a, ctx.mu_b = nets.encode(ctx.a, "a"), nets.encode(ctx.b, "b")
            ctx.z_a, ctx.z_b = self.sample_latent(ctx.mu_a), self.sample_latent(ctx.mu_b)
            ctx.fake_b, ctx.fake_a = nets.decode(ctx.z_a, "b"), nets.decode(ctx.z_b, "a")

    def _d_loss(self, real_logits, fake_logits):
        # the authors' LSGAN has no 1/2 (master networks.py, MsImageDis.calc_dis_loss / calc_gen_loss):
        # twice the textbook halves, so that gan_weight means their gan_w
        if self.gan_loss == "lsgan":
            return 2 * lsgan_d(real_logits, fake_logits)
        return nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits))

    def _g_loss(self, fake_logits):
        return 2 * lsgan_g(fake_logits) if self.gan_loss == "lsgan" else nonsaturating_g(fake_logits)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        d_a = self._d_loss(self.run_discriminator(ctx.a, "a"), self.run_discriminator(ctx.fake_a.detach(), "a"))
        d_b = self._d_loss(self.run_discriminator(ctx.b, "b"), self.run_discriminator(ctx.fake_b.detach(), "b"))
        return {"d_loss": self.gan_weight * (d_a + d_b), "d_loss_a": d_a, "d_loss_b": d_b}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        nets = self.generator
        adversarial = self._g_loss(self.run_discriminator(ctx.fake_a, "a")) + self._g_loss(
            self.run_discriminator(ctx.fake_b, "b"))
        kl = latent_kl(ctx.mu_a) + latent_kl(ctx.mu_b)
        reconstruction = F.l1_loss(nets.decode(ctx.z_a, "a"), ctx.a) + F.l1_loss(nets.decode(ctx.z_b, "b"), ctx.b)
        g_loss = self.gan_weight * adversarial + self.kl_weight * kl + self.reconstruction_weight * reconstruction
        terms = {"adversarial": adversarial, "kl": kl, "reconstruction": reconstruction}
        if self.cycle_weight > 0:  # L_CC: re-encode each translation, decode it back to its source domain
            mu_ab, mu_ba = nets.encode(ctx.fake_b, "b"), nets.encode(ctx.fake_a, "a")
            cycle_kl = latent_kl(mu_ab) + latent_kl(mu_ba)
            cycle = (F.l1_loss(nets.decode(self.sample_latent(mu_ab), "a"), ctx.a)
                     + F.l1_loss(nets.decode(self.sample_latent(mu_ba), "b"), ctx.b))
            g_loss = g_loss + self.cycle_kl_weight * cycle_kl + self.cycle_weight * cycle
            terms.update(cycle_kl=cycle_kl, cycle=cycle)
        return {"g_loss": g_loss, **terms}

    def phases(self):
        """D then G on every batch (the authors' dis_update, gen_update)."""
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: Literal["AtoB", "BtoA"] = "AtoB",
                  use_ema: bool = False) -> torch.Tensor:
        """G_B(mu_A(images)) (``AtoB``) or G_A(mu_B(images)) (``BtoA``): through the shared latent's mean."""
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        source, target = ("a", "b") if direction == "AtoB" else ("b", "a")
        nets = self.generator_ema if use_ema and self.generator_ema is not None else self.generator
        return nets.decode(nets.encode(images.to(self.device), source), target)
