"""BEGAN: Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks".

Recipe: D is an autoencoder; L(v) = mean |v - D(v)| is its L1 reconstruction loss.
D minimises L(x) - k_t L(G(z)), G minimises L(G(z)), and a proportional controller keeps
the equilibrium E L(G(z)) = gamma E L(x):
k_{t+1} = clamp(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), once per iteration, after D's step.
M_global = L(x) + |gamma L(x) - L(G(z))| measures convergence.

Defaults from the paper: gamma = 0.5, lambda_k = 0.001, k_0 = 0, Adam lr 1e-4 (the paper
decays it when M stalls; use ``lr_decay_iters`` for a schedule), code size (images) and z size 64
(z Gaussian here, as in every model of the package; the paper draws it uniform in [-1, 1]), ELU
activations and no BatchNorm in D (``d_norm="none"``), one D step per G step. The paper
does not give Adam's betas; we use (0.5, 0.999). D: ``nets.build_autoencoder`` (convolutional
for images, MLP for vectors; ``code_dim=None`` gives the paper's 64 on images and a 1-D code on
the 2-D mixtures, where a wider code lets D reconstruct fakes as well as real data and G gets no
signal); G: the DCGAN generator or an MLP (the paper's G mirrors D's
decoder; ours is the shared builder's so the benchmark sizes every model alike).

State: ``k`` is a registered buffer, saved in checkpoints, so a resumed run continues the
controller exactly. Logged: ``k`` (the value used in this iteration's D loss),
``convergence`` (M_global), ``recon_real`` and ``recon_fake``.
"""

from __future__ import annotations

from typing import Literal

import torch

from gan_lightning.losses import began_convergence, began_d, began_g, began_k_update, l1_reconstruction
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN
from gan_lightning.nets import build_autoencoder


@register_model
class BEGAN(ShapedGAN):
    paper = "Berthelot, Schumm & Metz 2017, BEGAN: Boundary Equilibrium Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")
    minibatch_discrimination_applies = False  # D is an autoencoder, not the shared discriminator
    recipe = {"lr_g": 0.0001, "lr_d": 0.0001}

    def __init__(
        self,
        latent_dim: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "none",
        code_dim: int | None = None,
        gamma: float = 0.5,
        lambda_k: float = 0.001,
        k_init: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(latent_dim=latent_dim, d_norm=d_norm, **kwargs)
        if not 0.0 <= k_init <= 1.0:
            raise ValueError(f"model.k_init must be in [0, 1], got {k_init}")
        self.gamma, self.lambda_k = gamma, lambda_k
        # The equilibrium controller's k: training state, saved with the checkpoint.
        self.training_state.declare("k", torch.tensor(float(k_init)))
        self.generator = self.shaped_generator()
        self.discriminator = build_autoencoder(self.data_shape, self.d_hidden, self.d_width, code_dim, self.d_norm,
                                               "elu")
        self._last_losses: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def k(self) -> torch.Tensor:
        return self.training_state.k

    def discriminate(self, x, labels=None):
        """Per-sample L1 reconstruction loss L(x), (N,): low means judged real."""
        recon, seen = self.run_discriminator(x, with_input=True)
        return l1_reconstruction(seen, recon, reduce=False)

    def discriminator_loss(self, real, fake, labels=None):
        real_loss, fake_loss = self.discriminate(real).mean(), self.discriminate(fake).mean()
        # Kept for the controller update after D's step (after_discriminator_step); the controller
        # runs on the device, in float64 (as the Python floats it replaced), without a host read.
        self._last_losses = (real_loss.detach(), fake_loss.detach())
        convergence = began_convergence(*self._last_losses, self.gamma).to(real_loss.dtype)
        return {"d_loss": began_d(real_loss, fake_loss, self.k), "recon_real": real_loss, "recon_fake": fake_loss,
                "k": self.k.detach().clone(), "convergence": convergence}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": began_g(self.discriminate(fake).mean())}

    def after_discriminator_step(self) -> None:
        if self._last_losses is None:
            return
        real_loss, fake_loss = self._last_losses
        self.k.copy_(began_k_update(self.k, real_loss, fake_loss, self.gamma, self.lambda_k))
        self._last_losses = None
