"""Test-only models that prove the phase-based core carries the families still to come.

- ``TwoWayTranslator``: two generators (A->B, B->A), two discriminators, image input from a
  dict batch, a replay pool per domain (CycleGAN's shape).
- ``LazyRegularized``: a DCGAN-style pair with a lazy R1 phase every 4 iterations, whose
  lr/betas the core scales by 4/5 (StyleGAN2's lazy regularization).
- ``TwoDomainData``: unpaired-style batches ``{"a": x, "b": y}`` of 8x8 images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from gan_lightning.core import Phase, ReplayPool, StepContext
from gan_lightning.data.base import GANDataModule
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import GANModule


def tiny_translator_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1), nn.Tanh())


def tiny_patch_critic() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3, padding=1))


class _Domains(Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.a = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
        self.b = -torch.rand(n, 1, 8, 8, generator=g).pow(2)

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int):
        return {"a": self.a[i], "b": self.b[i]}


class TwoDomainData(GANDataModule):
    data_shape = (1, 8, 8)

    def __init__(self, batch_size: int = 8, num: int = 64, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.num = num

    def build_datasets(self):
        return _Domains(self.num, self.seed), _Domains(16, self.seed + 1)


class TwoWayTranslator(GANModule):
    """CycleGAN's shape: G: A->B, F (generator_b): B->A, D_B (discriminator), D_A (discriminator_b)."""

    sampling = "translation"

    def __init__(self, data_shape=(1, 8, 8), pool_size: int = 4, cycle_weight: float = 10.0, **kwargs) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        torch.manual_seed(0)
        self.generator, self.generator_b = tiny_translator_net(), tiny_translator_net()
        self.discriminator, self.discriminator_b = tiny_patch_critic(), tiny_patch_critic()
        self.cycle_weight = cycle_weight
        self.pool_a = self.training_state.declare("pool_a", ReplayPool(pool_size))
        self.pool_b = self.training_state.declare("pool_b", ReplayPool(pool_size, seed=1))

    def optimizer_groups(self):
        return {"generator": [*self.generator.parameters(), *self.generator_b.parameters()],
                "discriminator": [*self.discriminator.parameters(), *self.discriminator_b.parameters()]}

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.fake_b, ctx.fake_a = self.generator(ctx.a), self.generator_b(ctx.b)

    def phases(self) -> list[Phase]:
        return [Phase("G", "generator", self.generator_terms), Phase("D", "discriminator", self.discriminator_terms)]

    def generator_terms(self, ctx: StepContext):
        adversarial = (nonsaturating_g(self.run_discriminator(ctx.fake_b))
                       + nonsaturating_g(self.run_discriminator(ctx.fake_a, net="discriminator_b")))
        cycle = F.l1_loss(self.generator_b(ctx.fake_b), ctx.a) + F.l1_loss(self.generator(ctx.fake_a), ctx.b)
        return {"g_loss": adversarial + self.cycle_weight * cycle, "cycle": cycle}

    def discriminator_terms(self, ctx: StepContext):
        fake_b, fake_a = self.pool_b.query(ctx.fake_b), self.pool_a.query(ctx.fake_a)
        d_b = nonsaturating_d(self.run_discriminator(ctx.b), self.run_discriminator(fake_b))
        d_a = nonsaturating_d(self.run_discriminator(ctx.a, net="discriminator_b"),
                              self.run_discriminator(fake_a, net="discriminator_b"))
        return {"d_loss": d_a + d_b}

    def _heldout_step(self, batch, batch_idx, stage):
        ctx = StepContext(batch)
        self.log(f"{stage}/cycle", F.l1_loss(self.generator_b(self.generator(ctx.a)), ctx.a), batch_size=ctx.a.size(0))

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        net = self.generator if direction == "AtoB" else self.generator_b
        return net(images.to(self.device))


class LazyRegularized(GANModule):
    """A small G/D pair with R1 on real data as a lazy phase every ``r1_interval`` iterations."""

    def __init__(self, data_shape=(1, 8, 8), latent_dim: int = 4, r1_interval: int = 4, r1_gamma: float = 1.0,
                 **kwargs) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        self.r1_interval, self.r1_gamma = r1_interval, r1_gamma
        self.generator = nn.Sequential(nn.Linear(latent_dim, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
        self.discriminator = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
        self.training_state.declare("r1_calls", 0)

    def phases(self) -> list[Phase]:
        return [*super().phases(),
                Phase("Dreg", "discriminator", self.r1_terms, interval=self.r1_interval, lazy=True)]

    def discriminator_loss(self, real, fake, labels=None):
        return {"d_loss": nonsaturating_d(self.run_discriminator(real), self.run_discriminator(fake))}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": nonsaturating_g(self.run_discriminator(fake))}

    def r1_terms(self, ctx: StepContext):
        self.training_state.r1_calls += 1
        real = ctx.real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.run_discriminator(real).sum(), real, create_graph=True)
        penalty = grad.pow(2).flatten(1).sum(1).mean()
        return {"dreg_loss": 0.5 * self.r1_gamma * penalty, "r1": penalty}
