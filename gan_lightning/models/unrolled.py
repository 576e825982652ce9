"""Unrolled GAN: Metz, Poole, Pfau & Sohl-Dickstein 2016, "Unrolled Generative Adversarial Networks" (ICLR 2017).

Recipe: G is trained against the discriminator it would face after D took ``unroll_steps``
more optimisation steps, f_K(theta_G, theta_D) = f(theta_G, theta_D^K), differentiating
through the unrolled steps (theta_D^K depends on theta_G through the fakes D trains on),
so G anticipates D's reaction instead of chasing the current D into a single mode. D's own
update is the ordinary one and does not use the unrolled copy. Loss: the non-saturating GAN
loss for both networks.

Implementation: the schedule is the base class's (one D step, then one G step, on the same
batch and noise); only G's loss differs, so the unrolling lives in :meth:`generator_loss`.
It runs D functionally (``run_discriminator(..., params=...)``) on copies of its current
parameters, takes ``unroll_steps`` differentiable steps of D's loss on the batch's real
data and fakes (``torch.autograd.grad(..., create_graph=True)``), and scores the fakes with
the unrolled parameters. ``unroll_optimizer="adam"`` unrolls Adam, continuing from the
moments and step count of D's real Adam state (as the paper unrolls D's own optimiser);
``"sgd"`` unrolls plain gradient descent. BatchNorm statistics of the unrolled copy are
updated on clones and thrown away. ``unroll_steps=0`` is the plain GAN.

Defaults, from the paper's 2-D mixture experiment as best we can state it: 5 unrolling
steps, Adam lr 1e-4 for G and D, betas (0.5, 0.999), one D step per G step, unrolling with
D's learning rate. Vectors get MLPs, images the DCGAN networks.
"""

from __future__ import annotations

from typing import Literal

import torch

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN


@register_model
class UnrolledGAN(ShapedGAN):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    top_k_applies = True  # G's adversarial loss is a mean over samples drawn from noise: top_k applies
    paper = "Metz et al. 2016, Unrolled Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")
    recipe = {"lr_g": 0.0001, "lr_d": 0.0001}

    def __init__(
        self,
        unroll_steps: int = 5,
        unroll_optimizer: Literal["adam", "sgd"] = "adam",
        unroll_lr: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if unroll_steps < 0:
            raise ValueError(f"model.unroll_steps must be >= 0, got {unroll_steps}")
        if unroll_optimizer not in ("adam", "sgd"):
            raise ValueError(f"model.unroll_optimizer must be 'adam' or 'sgd', got {unroll_optimizer!r}")
        self.unroll_steps = unroll_steps
        self.unroll_optimizer = unroll_optimizer
        self.unroll_lr = unroll_lr
        self.generator, self.discriminator = self.shaped_networks()

    # ------------------------------------------------------------------ losses
    def discriminator_loss(self, real, fake, labels=None):
        real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": nonsaturating_d(real_logits, fake_logits, self.real_target(real_logits)),
                "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}

    def generator_loss(self, real, fake, labels=None):
        if self.unroll_steps == 0:
            return {"g_loss": nonsaturating_g(self.top_k_samples(self.discriminate(fake)))}
        tensors = self.unrolled_discriminator(real, fake)
        return {"g_loss": nonsaturating_g(self.top_k_samples(self.run_discriminator(fake, params=tensors)))}

    # ------------------------------------------------------------------ unrolling
    def unrolled_discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """D's parameters (and cloned buffers) after ``unroll_steps`` differentiable steps on (real, fake).

        The result, a name -> tensor dict for ``functional_call``, stays in the autograd graph
        of ``fake``; D's own parameters and optimizer state are untouched.
        """
        named = dict(self.discriminator.named_parameters())
        params = {name: p.detach().requires_grad_(True) for name, p in named.items()}
        buffers = {name: b.detach().clone() for name, b in self.discriminator.named_buffers()}
        opt_d = self._discriminator_optimizer()
        if self.unroll_lr is not None:
            lr = self.unroll_lr
        else:  # D's current rate (it follows the LR schedule when there is one)
            lr = opt_d.param_groups[0]["lr"] if opt_d is not None else self.lr_d
        moments = self._adam_moments(named, opt_d) if self.unroll_optimizer == "adam" else None
        beta1, beta2 = self.betas
        real = real.detach()
        for _ in range(self.unroll_steps):
            tensors = {**params, **buffers}
            real_logits = self.run_discriminator(real, params=tensors)
            loss = nonsaturating_d(real_logits, self.run_discriminator(fake, params=tensors),
                                   self.real_target(real_logits))
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
            if moments is None:
                params = {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
                continue
            exp_avg, exp_avg_sq, step = moments
            step += 1
            exp_avg = {n: beta1 * exp_avg[n] + (1 - beta1) * g for n, g in zip(params, grads)}
            exp_avg_sq = {n: beta2 * exp_avg_sq[n] + (1 - beta2) * g * g for n, g in zip(params, grads)}
            moments = (exp_avg, exp_avg_sq, step)
            correction1, correction2 = 1 - beta1**step, 1 - beta2**step
            # The 1e-16 inside the square root keeps its derivative finite where a gradient is exactly 0.
            params = {
                n: p - lr * (exp_avg[n] / correction1) / ((exp_avg_sq[n] / correction2 + 1e-16).sqrt() + 1e-8)
                for n, p in params.items()
            }
        return {**params, **buffers}

    def _discriminator_optimizer(self) -> torch.optim.Optimizer | None:
        """D's torch optimizer while a trainer is attached, else None."""
        return self.named_optimizer("discriminator") if self.attached_trainer is not None else None

    @staticmethod
    def _adam_moments(named: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer | None):
        """(first moments, second moments, step) of D's Adam state; zeros when there is none (yet)."""
        state = optimizer.state if isinstance(optimizer, torch.optim.Adam) else {}
        exp_avg, exp_avg_sq, step = {}, {}, 0
        for name, p in named.items():
            entry = state.get(p, {})
            exp_avg[name] = entry["exp_avg"].detach() if "exp_avg" in entry else torch.zeros_like(p)
            exp_avg_sq[name] = entry["exp_avg_sq"].detach() if "exp_avg_sq" in entry else torch.zeros_like(p)
            if "step" in entry:
                step = int(entry["step"])
        return exp_avg, exp_avg_sq, step
