"""StackedGAN: Huang, Li, Poursaeed, Hopcroft & Belongie 2017, "Stacked Generative Adversarial Networks"
(CVPR); the authors' code: xunhuang1995/SGAN (Theano/Lasagne), MNIST in ``mnist/train_independent.py`` and
``mnist/train_joint.py``.

Named ``StackedGAN``, not ``SGAN``: "SGAN" is also the common name of Odena's semi-supervised GAN (here
``SemiSupervisedGAN``), so the short name would be ambiguous.

Recipe: a pre-trained bottom-up encoder E (a classifier x -> h1 -> y) gives the representation levels;
a top-down stack of generators inverts it level by level, G1: (y, z1) -> h1 and G0: (h1, z0) -> x, each
with its own D on its level (D1 on features h1, D0 on images). Besides the adversarial loss, each G has
a **conditional loss** (the encoder of the generated level must give back the conditioning: the
cross-entropy of E's classifier on G1's h1 against y; the squared distance between E's features of
G0's image and the h1 it was given) and an **entropy loss** (a Q network, a second head on D's body,
reconstructs the noise z_i from the generated level; the squared error, minimised by G and by D/Q, keeps
G from ignoring its noise). Training is **independent** first (G0 conditioned on the real images'
features E(x)), then **joint** (G0 conditioned on G1's output; ``joint_after``).

Defaults and where they come from (the MNIST scripts unless said otherwise):

- E: conv 5x5 (32), max-pool, conv 5x5 (32), max-pool, dense 256 (h1 = the fc3 features), dense 10;
  the authors load it pre-trained (``pretrained/encoder.npz``, training not in the code); we train it
  in the model's first ``encoder_steps`` iterations on the batches' labels (cross-entropy, Adam
  ``encoder_lr`` 1e-3, our choice), then keep it fixed: it is never stepped again. It is the model's
  own network, not the evaluation's digit judge;
- z1 and z0: 50 each (``latent_dim`` 100 split in two halves), drawn from U(0, 1) as the authors draw them
  (``theano_rng.uniform``), and Q's heads end in a sigmoid as theirs: the entropy term's scale, and so its
  weight 10, is theirs (with N(0, I) noise the squared error would be about 12 times larger);
  ``sample(truncation=...)`` does not apply;
- G1: [z1, one-hot y] -> dense 512, BN, ReLU, dense 512, BN, ReLU, dense 256, ReLU (``g_hidden``);
- G0: z0 -> dense 128, BN, ReLU, concatenated to h1, then deconvolutions to 28 px (ours: the project's
  DCGAN G at ``g_width`` 64, tanh output for [-1, 1] data instead of the authors' sigmoid);
- D1: dense 256, dense 256 on h1 (``d_hidden``), heads: real/fake and Q1 (50); D0: convolutions
  32, 64, 128 stride 2, LeakyReLU, dense 256, heads: real/fake and Q0 (ours: the project's DCGAN D
  without normalisation, ``d_width`` 64, and a Q head through one hidden layer of ``d_hidden``);
- losses: ``advloss_weight`` 1, ``condloss_weight`` 1 (``condition_weight``), ``entloss_weight`` 10
  (``entropy_weight``); D's loss 0.5 (real + fake) binary cross-entropy + entropy weight x Q's squared
  error; G's the non-saturating one; each G's loss reaches only its own parameters (in joint training
  the authors' G1 is updated by G1's loss alone, so G0 reads G1's output detached);
- Adam, lr 1e-4 for G and D, beta1 0.5 (``gen_lr``, ``disc_lr``, ``nn.adam_updates(..., mom1=0.5)``),
  batch 100; one D step then one G step per batch, both levels at once.

The features D (D1) is called directly, not through ``run_discriminator``: the augmentations installed
there (DiffAugment, ADA, instance noise) are image transforms and D1 sees feature vectors; D0 sees
images through ``run_discriminator``.

Phases: ``E`` (optimizer ``encoder``) for ``encoder_steps`` iterations; then ``D1``, ``D0``
(``discriminator1``, ``discriminator0``), ``G1``, ``G0`` (``generator1``, ``generator0``).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core import StepContext, WindowedPhase
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import merged_optimizers
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import LabelConditioned, OwnClassifier
from gan_lightning.nets import AuxiliaryHeadDiscriminator, MLPDiscriminator, network_kind
from gan_lightning.nets.stacked import FeatureGenerator, FeatureToImageGenerator, StackedEncoder


def entropy_term(reconstructed: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Q's squared error on the noise: mean (Q(G(z)) - z)^2 (the authors' ``loss_gen*_ent``), the
    variational bound of the conditional entropy term up to constants."""
    return (reconstructed - z).pow(2).mean()


@register_model
class StackedGAN(OwnClassifier, LabelConditioned):
    """Stacked GAN: G1 (y, z1) -> features, G0 (features, z0) -> image, against a pre-trained encoder.

    Args:
        latent_dim: length of z = [z1, z0] (z1 the first half).
        feature_dim: size of the encoder's features h1.
        encoder_width: channels of the encoder's convolutions.
        g_width / d_width: the image level's DCGAN G and D widths.
        g_hidden / d_hidden: G1's hidden units; D1's hidden units and D0's Q hidden layer.
        entropy_weight / condition_weight: weights of the entropy and conditional losses (0 turns one off).
        encoder_steps: the first iterations, in which only the encoder trains (on the labels).
        joint_after: the iteration from which G0 is conditioned on G1's output (joint training) instead of
            the real images' features (independent training).
        encoder_lr: the encoder's learning rate (``optimizers: {encoder: ...}`` sets the rest).
    """

    paper = "Huang, Li, Poursaeed, Hopcroft & Belongie 2017, Stacked Generative Adversarial Networks"
    data_kinds = ("image",)
    recipe = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        num_classes: int = 10,
        feature_dim: int = 256,
        encoder_width: int = 32,
        g_width: int = 64,
        d_width: int = 64,
        g_hidden: int = 512,
        d_hidden: int = 256,
        entropy_weight: float = 10.0,
        condition_weight: float = 1.0,
        encoder_steps: int = 500,
        joint_after: int = 3000,
        encoder_lr: float = 1e-3,
        **kwargs,
    ) -> None:
        kwargs["optimizers"] = merged_optimizers({"encoder": {"lr": encoder_lr}}, kwargs.get("optimizers"))
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if latent_dim < 2:
            raise ValueError(f"model.latent_dim must be >= 2 (z1 and z0 take half each), got {latent_dim}")
        if entropy_weight < 0 or condition_weight < 0:
            raise ValueError(f"model.entropy_weight and model.condition_weight must be >= 0, got {entropy_weight} "
                             f"and {condition_weight}")
        if encoder_steps < 1:
            raise ValueError(f"model.encoder_steps must be >= 1 (the encoder is trained first), got {encoder_steps}")
        if joint_after < encoder_steps:
            raise ValueError(f"model.joint_after must be >= model.encoder_steps ({encoder_steps}), got {joint_after}")
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.num_classes = num_classes
        self.z1_dim = latent_dim // 2
        self.z0_dim = latent_dim - self.z1_dim
        self.entropy_weight, self.condition_weight = float(entropy_weight), float(condition_weight)
        self.encoder_steps, self.joint_after = int(encoder_steps), int(joint_after)
        uniform = torch.rand(self.fixed_noise.shape, generator=torch.Generator().manual_seed(1234))
        self.fixed_noise.copy_(uniform)  # the sample grids' noise from z's own distribution, U(0, 1)
        self.encoder = StackedEncoder(channels, size, encoder_width, feature_dim, num_classes)
        self.generator = nn.ModuleDict({
            "level1": FeatureGenerator(self.z1_dim, num_classes, feature_dim, g_hidden),
            "level0": FeatureToImageGenerator(feature_dim, self.z0_dim, channels, size, g_width),
        })
        self.discriminator = nn.ModuleDict({
            "level1": MLPDiscriminator((feature_dim,), (d_hidden, d_hidden), outputs=1 + self.z1_dim,
                                       hidden_activation="relu"),
            "level0": AuxiliaryHeadDiscriminator(channels, size, d_width, aux_outputs=self.z0_dim,
                                                 aux_hidden=d_hidden, norm="none"),
        })

    # ------------------------------------------------------------------ networks
    def sample_noise(self, num: int, rng: torch.Generator | None = None,
                     truncation: float | None = None) -> torch.Tensor:
        """z = [z1, z0] ~ U(0, 1) (the authors' noise)."""
        if truncation is not None:
            raise ValueError("truncation: StackedGAN draws z from U(0, 1), as its authors; truncation does not apply")
        if rng is None:
            return torch.rand(num, self.latent_dim, device=self.device)
        return torch.rand(num, self.latent_dim, generator=rng).to(self.device)

    def split_noise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return z[:, :self.z1_dim], z[:, self.z1_dim:]

    def generate(self, z, labels=None, net=None, conditions=None):
        net = net or self.generator
        z1, z0 = self.split_noise(z)
        features = net["level1"](z1, self.resolve_labels(labels, z.size(0), z.device))
        return net["level0"](features, z0)

    def feature_discriminator(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D1 on features: (real/fake logits, Q1's reconstruction of z1)."""
        out = self.discriminator["level1"](features)
        return out[:, 0], torch.sigmoid(out[:, 1:])

    def image_discriminator(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D0 on images: (real/fake logits, Q0's reconstruction of z0)."""
        logits, q = self.run_discriminator(images, method="level0")
        return logits, torch.sigmoid(q)

    def discriminate(self, x, labels=None):
        return self.image_discriminator(x)[0]

    # ------------------------------------------------------------------ training
    def optimizer_groups(self):
        return {"encoder": self.encoder.parameters(),
                "generator1": self.generator["level1"].parameters(),
                "discriminator1": self.discriminator["level1"].parameters(),
                "generator0": self.generator["level0"].parameters(),
                "discriminator0": self.discriminator["level0"].parameters()}

    def joint(self, iteration: int) -> bool:
        """Whether the iteration trains the levels jointly (G0 on G1's output)."""
        return iteration >= self.joint_after

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.labels = self.batch_labels(ctx.labels)
        if ctx.iteration < self.encoder_steps:
            return  # only the encoder trains
        with torch.no_grad():
            ctx.real_features = self.encoder.features(ctx.real)
        ctx.z = self.sample_noise(ctx.batch_size)
        ctx.z1, ctx.z0 = self.split_noise(ctx.z)
        with torch.set_grad_enabled(ctx.runs("G1")):
            ctx.fake_features = self.generator["level1"](ctx.z1, ctx.labels)
        ctx.condition = ctx.fake_features.detach() if self.joint(ctx.iteration) else ctx.real_features
        with torch.set_grad_enabled(ctx.runs("G0")):
            ctx.fake = self.generator["level0"](ctx.condition, ctx.z0)

    def d1_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_logits, _ = self.feature_discriminator(ctx.real_features)
        fake_logits, q1 = self.feature_discriminator(ctx.fake_features.detach())
        entropy = entropy_term(q1, ctx.z1)
        return {"d1_loss": 0.5 * nonsaturating_d(real_logits, fake_logits) + self.entropy_weight * entropy,
                "d1_entropy": entropy.detach()}

    def d0_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_logits, _ = self.image_discriminator(ctx.real)
        fake_logits, q0 = self.image_discriminator(ctx.fake.detach())
        entropy = entropy_term(q0, ctx.z0)
        return {"d0_loss": 0.5 * nonsaturating_d(real_logits, fake_logits) + self.entropy_weight * entropy,
                "d0_entropy": entropy.detach()}

    def g1_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        logits, q1 = self.feature_discriminator(ctx.fake_features)
        adversarial, entropy = nonsaturating_g(logits), entropy_term(q1, ctx.z1)
        condition = F.cross_entropy(self.encoder.classify(ctx.fake_features), ctx.labels)
        loss = adversarial + self.condition_weight * condition + self.entropy_weight * entropy
        return {"g1_loss": loss, "g1_adversarial": adversarial.detach(), "g1_condition": condition.detach(),
                "g1_entropy": entropy.detach()}

    def g0_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        logits, q0 = self.image_discriminator(ctx.fake)
        adversarial, entropy = nonsaturating_g(logits), entropy_term(q0, ctx.z0)
        condition = (self.encoder.features(ctx.fake) - ctx.condition).pow(2).mean()
        loss = adversarial + self.condition_weight * condition + self.entropy_weight * entropy
        return {"g0_loss": loss, "g0_adversarial": adversarial.detach(), "g0_condition": condition.detach(),
                "g0_entropy": entropy.detach()}

    def phases(self) -> list[WindowedPhase]:
        start = self.encoder_steps
        return [WindowedPhase("E", "encoder", self.encoder_terms, stop=start),
                WindowedPhase("D1", "discriminator1", self.d1_terms, start=start),
                WindowedPhase("D0", "discriminator0", self.d0_terms, start=start),
                WindowedPhase("G1", "generator1", self.g1_terms, interval=self.critic_steps, start=start),
                WindowedPhase("G0", "generator0", self.g0_terms, interval=self.critic_steps, start=start)]
