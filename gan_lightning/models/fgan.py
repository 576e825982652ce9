"""f-GAN: Nowozin, Cseke & Tomioka 2016, "f-GAN: Training Generative Neural Samplers using
Variational Divergence Minimization" (NeurIPS).

Recipe: any f-divergence through its variational lower bound
F(G, V) = E_P[g_f(V(x))] - E_Q[f*(g_f(V(x)))] (equation 6 of the paper), Q the generator's
distribution, V the discriminator's raw output, g_f the divergence's output activation and f*
its Fenchel conjugate (Table 2; ``gan_lightning.losses.fdivergence``). D maximises F; G minimises
it, by default through the paper's practical objective of section 3.2, -E_Q[g_f(V(G(z)))]
(``generator_objective="trick"``, the form the paper trained with, as the GAN paper's
non-saturating loss), or the saturating -E_Q[f*(g_f(V(G(z))))] (``"saturating"``). One D
step per G step: the paper's single-step gradient method (Algorithm 1).

``divergence``: ``kl``, ``reverse_kl``, ``pearson``, ``neyman``, ``squared_hellinger``,
``jensen_shannon`` or ``gan`` (the paper's Table 2). Default ``gan``, the GAN objective's own
row (with the default G objective it is exactly the usual non-saturating GAN), so another
divergence is one option away; ``benchmarks/fgan.py`` compares all seven.

``generator="gaussian"`` makes G a single Gaussian with learned mean and per-dimension std,
x = mu + sigma * z[:, :d] (the unimodal model of the paper's section 4 fit of a Gaussian to a
mixture, where KL covers both modes and reverse KL picks one); ``"network"`` (default) is the
usual G: an MLP for vectors (1-D mixtures, the 2-D toy sets), DCGAN networks for images.

Defaults: Adam lr 2e-4, betas (0.5, 0.999), one D step per G step: the DCGAN recipe (the
paper's image experiments build on DCGAN; its own learning rates were not checked here).
"""

from __future__ import annotations

from typing import Literal, Sequence


from gan_lightning.losses.fdivergence import fgan_d, fgan_g, get_divergence
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.mlp import GaussianGenerator
from gan_lightning.nets import build_networks


@register_model
class FGAN(GANModule):
    paper = "Nowozin et al. 2016, f-GAN: Training Generative Neural Samplers using Variational Divergence Minimization"
    data_kinds = ("image", "toy2d", "toy1d")
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "critic_steps": 1}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        divergence: str = "gan",
        generator_objective: Literal["trick", "saturating"] = "trick",
        generator: Literal["network", "gaussian"] = "network",
        latent_dim: int = 100,
        g_hidden: Sequence[int] = (400, 400, 400, 400),
        d_hidden: Sequence[int] = (200, 200, 200),
        g_width: int = 64,
        d_width: int = 64,
        gaussian_init: tuple[float, float] = (0.0, 1.0),
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        self.divergence = get_divergence(divergence).name
        if generator_objective not in ("trick", "saturating"):
            raise ValueError(f"model.generator_objective: unknown {generator_objective!r}; accepted: trick, saturating")
        if generator not in ("network", "gaussian"):
            raise ValueError(f"model.generator: unknown {generator!r}; accepted: network, gaussian")
        self.generator_objective = generator_objective
        g_net, self.discriminator = build_networks(self.data_shape, latent_dim, g_hidden, d_hidden, g_width, d_width)
        if generator == "gaussian":
            g_net = GaussianGenerator(latent_dim, self.data_shape, *gaussian_init)
        self.generator = g_net

    def discriminator_loss(self, real, fake, labels=None):
        real_v, fake_v = self.discriminate(real), self.discriminate(fake)
        loss = fgan_d(real_v, fake_v, self.divergence)
        # -d_loss is the variational estimate of D_f(P || Q) on this batch
        return {"d_loss": loss, "divergence_estimate": -loss.detach()}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": fgan_g(self.discriminate(fake), self.divergence, self.generator_objective)}
