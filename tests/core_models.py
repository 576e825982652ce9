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
from gan_lightning.core.protocol import Condition, Output
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

    def conditions(self):
        return (Condition("image", "a"),)

    def output(self):
        return Output("image", self.data_shape, key="b")

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

    def heldout_step(self, batch, batch_idx, stage):
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


# ---------------------------------------------------------------------------- the condition / output protocol
# Three families still to come, each as small as a test allows, built on the declarations only:
# a caption-conditioned image model (token ids in, GAN-CLS's matching-aware D), a video model
# (N, C, T, H, W outputs) and a discrete-sequence model (token outputs, sampled without a gradient,
# G trained by REINFORCE against D's score).
VOCAB, CAPTION_LENGTH = 12, 5


class _Captioned(Dataset):
    """8x8 images of a bright square whose position the caption's first token names (0..3), plus filler words."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.captions = torch.randint(4, VOCAB, (n, CAPTION_LENGTH), generator=g)
        self.captions[:, 0] = torch.randint(0, 4, (n,), generator=g)
        self.images = -torch.ones(n, 1, 8, 8)
        for i, where in enumerate(self.captions[:, 0].tolist()):
            row, col = divmod(where, 2)
            self.images[i, :, 4 * row:4 * row + 4, 4 * col:4 * col + 4] = 1.0
        self.images += 0.05 * torch.randn(self.images.shape, generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return {"image": self.images[i], "caption": self.captions[i]}


class CaptionData(GANDataModule):
    data_shape = (1, 8, 8)
    data_kind = "captioned"

    def __init__(self, batch_size: int = 8, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)

    def build_datasets(self):
        return _Captioned(64, self.seed), _Captioned(16, self.seed + 1)


class TextConditioned(GANModule):
    """G(z, caption) and D(x, caption) (a mean of word embeddings each); D also sees real images with
    wrong captions (GAN-CLS: real + 0.5 (wrong + fake))."""

    data_kinds = ("captioned",)

    def __init__(self, data_shape=(1, 8, 8), latent_dim: int = 4, **kwargs) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        torch.manual_seed(0)
        self.g_words, self.d_words = nn.EmbeddingBag(VOCAB, 8), nn.EmbeddingBag(VOCAB, 8)
        self.generator = nn.Sequential(nn.Linear(latent_dim + 8, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
        self.discriminator = nn.Sequential(nn.Linear(64 + 8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def conditions(self):
        return (Condition("text", "caption", VOCAB),)

    def optimizer_groups(self):
        return {"generator": [*self.g_words.parameters(), *self.generator.parameters()],
                "discriminator": [*self.d_words.parameters(), *self.discriminator.parameters()]}

    def generate(self, z, labels=None, net=None, conditions=None):
        return (net or self.generator)(torch.cat([z, self.g_words(conditions["caption"])], 1))

    def judge(self, x, caption):
        return self.run_discriminator(torch.cat([x.flatten(1), self.d_words(caption)], 1)).squeeze(1)

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.generate(ctx.z, conditions={"caption": ctx.caption})

    def discriminator_loss(self, real, fake, labels=None):
        raise AssertionError("phases() reads the context")

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext):
        wrong = ctx.caption.roll(1, dims=0)
        real = F.softplus(-self.judge(ctx.real, ctx.caption)).mean()
        mismatched = F.softplus(self.judge(ctx.real, wrong)).mean()
        fake = F.softplus(self.judge(ctx.fake.detach(), ctx.caption)).mean()
        return {"d_loss": real + 0.5 * (mismatched + fake), "d_wrong": mismatched}

    def generator_terms(self, ctx: StepContext):
        return {"g_loss": F.softplus(-self.judge(ctx.fake, ctx.caption)).mean()}

    def discriminate(self, x, labels=None):
        raise TypeError("TextConditioned judges (image, caption) pairs: call judge(x, caption)")

    def heldout_step(self, batch, batch_idx, stage):
        ctx = StepContext(batch, real_key=self.output().key)
        self.log(f"{stage}/d_real", self.judge(ctx.real, ctx.caption).mean(), batch_size=ctx.batch_size)


class _Clips(Dataset):
    """Clips of 4 frames, 8x8: a bright column moving one step right per frame from a random start."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        start = torch.randint(0, 5, (n,), generator=g)
        self.clips = -torch.ones(n, 1, 4, 8, 8)
        for i, s in enumerate(start.tolist()):
            for t in range(4):
                self.clips[i, 0, t, :, s + t] = 1.0

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int):
        return self.clips[i]


class ClipData(GANDataModule):
    data_shape = (1, 4, 8, 8)
    data_kind = "video"

    def __init__(self, batch_size: int = 8, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)

    def build_datasets(self):
        return _Clips(64, self.seed), _Clips(16, self.seed + 1)


class VideoGenerator(GANModule):
    """G: z -> (1, T=4, 8, 8) clips; D: a 3-D convolution over (T, H, W). The default D/G phases."""

    data_kinds = ("video",)

    def __init__(self, data_shape=(1, 4, 8, 8), latent_dim: int = 4, **kwargs) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        torch.manual_seed(0)
        self.generator = nn.Sequential(nn.Linear(latent_dim, 256), nn.Tanh(), nn.Unflatten(1, tuple(self.data_shape)))
        self.discriminator = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(),
                                           nn.Linear(4 * 256, 1))

    def output(self):
        return Output("video", self.data_shape)

    def discriminator_loss(self, real, fake, labels=None):
        return {"d_loss": nonsaturating_d(self.run_discriminator(real), self.run_discriminator(fake))}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": nonsaturating_g(self.run_discriminator(fake))}


SEQUENCE_LENGTH, TOKENS = 6, 5


class _Sequences(Dataset):
    """Token sequences that count up from a random start, modulo 5: (3, 4, 0, 1, 2, 3)."""

    def __init__(self, n: int, seed: int) -> None:
        start = torch.randint(0, TOKENS, (n, 1), generator=torch.Generator().manual_seed(seed))
        self.sequences = (start + torch.arange(SEQUENCE_LENGTH)) % TOKENS

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int):
        return self.sequences[i]


class SequenceData(GANDataModule):
    data_shape = (SEQUENCE_LENGTH,)
    data_kind = "tokens"

    def __init__(self, batch_size: int = 8, seed: int = 0) -> None:
        super().__init__(batch_size=batch_size, seed=seed)

    def build_datasets(self):
        return _Sequences(64, self.seed), _Sequences(16, self.seed + 1)


class SequenceGenerator(GANModule):
    """G: z -> per-position logits over the vocabulary; samples are drawn (no gradient through them)
    and G learns by REINFORCE: -(reward - baseline) * log p(sequence), reward = sigmoid(D(one-hot)).
    The baseline is a running mean of the reward: training state, saved with the checkpoint.
    ``validate_args=False``: torch.distributions' argument checks read their tensors on the host (a
    GPU would wait for them every step; tests/test_device.py counts it)."""

    data_kinds = ("tokens",)

    def __init__(self, data_shape=(SEQUENCE_LENGTH,), latent_dim: int = 4, baseline_decay: float = 0.9,
                 **kwargs) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        torch.manual_seed(0)
        self.length = int(self.data_shape[0])
        self.baseline_decay = baseline_decay
        self.generator = nn.Sequential(nn.Linear(latent_dim, 32), nn.Tanh(), nn.Linear(32, self.length * TOKENS),
                                       nn.Unflatten(1, (self.length, TOKENS)))
        self.discriminator = nn.Sequential(nn.Flatten(), nn.Linear(self.length * TOKENS, 16), nn.LeakyReLU(0.2),
                                           nn.Linear(16, 1))
        self.training_state.declare("baseline", torch.zeros(()))

    def output(self):
        return Output("tokens", self.data_shape, vocab_size=TOKENS)

    def one_hot(self, tokens):
        return F.one_hot(tokens.long(), TOKENS).float()

    def generate(self, z, labels=None, net=None, conditions=None):
        """Sampled tokens in training mode; the most likely ones in eval mode (grids compare over time)."""
        net = net or self.generator
        logits = net(z)
        if not net.training:
            return logits.argmax(-1)
        return torch.distributions.Categorical(logits=logits, validate_args=False).sample()

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.logits = self.generator(ctx.z)
        ctx.fake = torch.distributions.Categorical(logits=ctx.logits.detach(), validate_args=False).sample()  # no gradient

    def phases(self) -> list[Phase]:
        return [Phase("D", "discriminator", self.discriminator_terms),
                Phase("G", "generator", self.reinforce_terms, interval=self.critic_steps)]

    def discriminator_terms(self, ctx: StepContext):
        real = self.run_discriminator(self.one_hot(ctx.real)).squeeze(1)
        fake = self.run_discriminator(self.one_hot(ctx.fake)).squeeze(1)
        return {"d_loss": nonsaturating_d(real, fake)}

    def reinforce_terms(self, ctx: StepContext):
        with torch.no_grad():
            reward = torch.sigmoid(self.run_discriminator(self.one_hot(ctx.fake)).squeeze(1))
        state = self.training_state
        advantage = reward - state.baseline
        log_prob = torch.distributions.Categorical(logits=ctx.logits, validate_args=False).log_prob(ctx.fake).sum(1)
        state.baseline = self.baseline_decay * state.baseline + (1 - self.baseline_decay) * reward.mean()
        return {"g_loss": -(advantage * log_prob).mean(), "reward": reward.mean()}

    def discriminate(self, x, labels=None):
        return self.run_discriminator(self.one_hot(x)).squeeze(1)
