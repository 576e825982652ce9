"""AAE: Makhzani, Shlens, Jaitly, Goodfellow & Frey 2015, "Adversarial Autoencoders".

Recipe: an autoencoder (encoder q(z|x), decoder p(x|z)) whose code distribution q(z) is
matched to a prior p(z) by a GAN played on the codes. Each batch runs two phases:
1. reconstruction: encoder and decoder minimise the reconstruction error of the batch;
2. regularisation: the code discriminator learns to tell prior samples (real) from the
   encoder's codes (fake), then the encoder, as the GAN's generator, learns to fool it
   (non-saturating loss).
The decoder is then a generative model: decoding prior samples draws new images.

Defaults: prior N(0, I); a deterministic encoder (the paper's main choice); a 2-D code
(``latent_dim=2``, for the scatter figure of the codes coloured by digit; raise it for
sharper samples); the paper's code discriminator (two hidden layers of 1000 units);
DCGAN-style convolutional encoder and decoder (the paper's MNIST networks were MLPs of 1000
units); mean squared reconstruction error on images in [-1, 1]. Optimisers: the paper uses
SGD with momentum 0.9 and a learning rate per phase; we default to Adam (lr 2e-4, betas
(0.5, 0.999)) for each of the three optimisers, the paper's choice one flag away
(``--model.optimizer sgd --model.momentum 0.9`` and ``lr_g`` / ``lr_d`` / ``lr_e``).

Optimisers: ``lr_g`` for the autoencoder (encoder + decoder, reconstruction phase), ``lr_d``
for the code discriminator, ``lr_e`` for the encoder as generator (regularisation phase).
``self.generator`` is the decoder (so ``sample()`` decodes prior samples) and
``self.discriminator`` the code discriminator. Logged: ``recon_loss``, ``d_loss``, ``g_loss``.

Label information in the adversarial regularisation (the paper's section 4, Figure 4):
``prior: mixture`` replaces N(0, I) by a mixture of ``num_classes`` 2-D Gaussians (one per class,
each elongated along its own ray, components evenly spread in angle: ``mixture_prior``; the paper
draws the figure but gives no numbers, so the shape -- centre at radius 1.4 along the ray, std
0.5 along it and 0.1 across -- is ours); ``label_information: true`` then gives D the one-hot
label beside the code, with one extra "no label" slot: a labelled example's code is matched to
its class's component (D's "real" pairs are prior draws from component y with the one-hot y),
an unlabelled one's to the whole mixture (the extra slot). ``label_fraction`` (1: every
example; the paper's Figure 4b: 10K of 60K) labels the first round(fraction x batch) examples of
each batch and treats the others as unlabelled. ``discriminate`` uses the "no label" slot.
``sample()`` decodes mixture draws, component n mod num_classes for sample n.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.core import Phase, StepContext
from gan_lightning.core.protocol import Condition
from gan_lightning.errors import SettingError
from gan_lightning.models.base import GANModule, merged_optimizers
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import LabeledSubset
from gan_lightning.nets import ConvEncoder, DCGANGenerator, MLPDiscriminator, network_kind
from gan_lightning.nets.conditional import check_labels, cycle_labels


def mixture_prior(normal: torch.Tensor, components: torch.Tensor, num_components: int, shift: float = 1.4,
                  radial_std: float = 0.5, tangential_std: float = 0.1) -> torch.Tensor:
    """Map standard normal draws ``normal`` (N, 2) to the 2-D Gaussian mixture's component ``components`` (N,):
    centred ``shift`` along the ray at angle 2 pi k / num_components, ``radial_std`` along it, ``tangential_std``
    across it."""
    along = shift + radial_std * normal[:, 0]
    across = tangential_std * normal[:, 1]
    angle = components.to(normal.dtype) * (2 * math.pi / num_components)
    cos, sin = angle.cos(), angle.sin()
    return torch.stack([along * cos - across * sin, along * sin + across * cos], dim=1)


@register_model
class AAE(GANModule):
    smooths_real_labels = True  # D's loss is binary cross-entropy: label_smoothing applies
    paper = "Makhzani et al. 2015, Adversarial Autoencoders"
    data_kinds = ("image",)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 2,
        g_width: int = 64,
        e_width: int = 64,
        code_hidden: Sequence[int] = (1000, 1000),
        lr_e: float | None = None,
        prior: Literal["gaussian", "mixture"] = "gaussian",
        label_information: bool = False,
        num_classes: int = 10,
        label_fraction: float = 1.0,
        **kwargs,
    ) -> None:
        if lr_e is not None:
            kwargs["optimizers"] = merged_optimizers({"encoder": {"lr": lr_e}}, kwargs.get("optimizers"))
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        network_kind(self.data_shape, "dcgan")
        if prior not in ("gaussian", "mixture"):
            raise ValueError(f"model.prior must be 'gaussian' or 'mixture', got {prior!r}")
        if prior == "mixture" and latent_dim != 2:
            raise ValueError(f"model.prior 'mixture' is a mixture of 2-D Gaussians: model.latent_dim must be 2, "
                             f"got {latent_dim}")
        if label_information and prior != "mixture":
            raise ValueError("model.label_information needs model.prior 'mixture' (one component per class)")
        if num_classes < 2:
            raise ValueError(f"model.num_classes must be >= 2, got {num_classes}")
        if not 0.0 <= label_fraction <= 1.0:
            raise ValueError(f"model.label_fraction must lie in [0, 1], got {label_fraction}")
        self.prior, self.label_information = prior, bool(label_information)
        self.num_classes, self.label_fraction = int(num_classes), float(label_fraction)
        channels, size = self.data_shape[0], self.data_shape[1]
        self.encoder = ConvEncoder(channels, size, e_width, latent_dim)
        self.generator = DCGANGenerator(latent_dim, channels, size, g_width)
        label_slots = self.num_classes + 1 if self.label_information else 0
        self.discriminator = MLPDiscriminator((latent_dim + label_slots,), tuple(code_hidden))

    # ------------------------------------------------------------------ networks
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of each image, (N, latent_dim)."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.generator(code)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def discriminate(self, x, labels=None):
        """The code discriminator's logit for the codes of images ``x`` (high: looks drawn from the prior);
        with label information, as unlabelled codes (the "no label" slot)."""
        codes = self.encode(x)
        return self.run_discriminator(self.with_label_slots(codes, self.no_labels(codes)))

    # ------------------------------------------------------------------ priors and label information
    def sample_noise(self, num, rng=None, truncation=None):
        """Prior draws: N(0, I), or the mixture's component n mod num_classes for draw n."""
        normal = super().sample_noise(num, rng=rng, truncation=truncation)
        if self.prior == "gaussian":
            return normal
        components = torch.arange(num, device=normal.device) % self.num_classes
        return mixture_prior(normal, components, self.num_classes)

    def no_labels(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.full((codes.size(0),), self.num_classes, dtype=torch.long, device=codes.device)

    def batch_slots(self, labels: torch.Tensor | None, codes: torch.Tensor) -> torch.Tensor:
        """Each example's label slot: its label for the first round(label_fraction x batch), "no label" after."""
        if labels is None:
            raise SettingError("AAE with model.label_information trains on labelled data: batches of "
                               "(image, label); this data module gives none")
        labelled = torch.arange(codes.size(0), device=codes.device) < round(self.label_fraction * codes.size(0))
        return torch.where(labelled, labels.to(codes.device).long(), self.num_classes)

    def with_label_slots(self, codes: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """D's input: the code, and with label information the one-hot slot (num_classes + 1 wide) beside it."""
        if not self.label_information:
            return codes
        return torch.cat([codes, F.one_hot(slots, self.num_classes + 1).to(codes.dtype)], dim=1)

    def prior_codes(self, slots: torch.Tensor) -> torch.Tensor:
        """Prior draws for a batch: from component y for slot y, from the whole mixture for "no label"."""
        normal = super().sample_noise(slots.size(0))
        if self.prior == "gaussian":
            return normal
        random = torch.randint(self.num_classes, slots.shape, device=slots.device)
        return mixture_prior(normal, torch.where(slots < self.num_classes, slots, random), self.num_classes)

    # ------------------------------------------------------------------ optimisation
    def optimizer_groups(self):
        """The autoencoder (reconstruction phase), the code discriminator, the encoder (regularisation phase)."""
        return {"autoencoder": itertools.chain(self.encoder.parameters(), self.generator.parameters()),
                "discriminator": self.discriminator.parameters(), "encoder": self.encoder.parameters()}

    def prepare_step(self, ctx: StepContext) -> None:
        """Nothing to draw up front: the regularisation phase draws its prior samples itself."""

    def phases(self) -> list[Phase]:
        return [Phase("recon", "autoencoder", self.reconstruction_terms),
                Phase("D", "discriminator", self.code_discriminator_terms),
                Phase("G", "encoder", self.encoder_terms)]

    def reconstruction_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        return {"recon_loss": F.mse_loss(self.reconstruct(ctx.real), ctx.real)}

    def slots(self, ctx: StepContext, codes: torch.Tensor) -> torch.Tensor:
        return self.batch_slots(ctx.labels, codes) if self.label_information else self.no_labels(codes)

    def code_discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """Prior samples are D's "real", the encoder's codes its "fake" (each beside its label slot)."""
        with torch.no_grad():
            codes = self.encode(ctx.real)
        slots = self.slots(ctx, codes)
        prior_logits = self.run_discriminator(self.with_label_slots(self.prior_codes(slots), slots))
        code_logits = self.run_discriminator(self.with_label_slots(codes, slots))
        return {"d_loss": nonsaturating_d(prior_logits, code_logits, self.real_target(prior_logits)),
                "d_prior": prior_logits.mean(), "d_code": code_logits.mean()}

    def encoder_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        codes = self.encode(ctx.real)
        return {"g_loss": nonsaturating_g(self.run_discriminator(self.with_label_slots(codes, self.slots(ctx, codes))))}

    def heldout_step(self, batch, batch_idx, stage):
        real = StepContext(batch).real
        prior = self.sample_noise(real.size(0), rng=torch.Generator().manual_seed(batch_idx))
        codes = self.encode(real)
        unlabelled = self.no_labels(codes)
        scores = {f"{stage}/recon_loss": F.mse_loss(self.decode(codes), real),
                  f"{stage}/d_prior": self.run_discriminator(self.with_label_slots(prior, unlabelled)).mean(),
                  f"{stage}/d_code": self.run_discriminator(self.with_label_slots(codes, unlabelled)).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))


@register_model
class SemiSupervisedAAE(LabeledSubset, AAE):
    """Semi-supervised AAE: Makhzani et al. 2015, section 5 (Figure 8).

    The encoder q(y, z | x) outputs a categorical y (softmax over ``num_classes``) and a style z
    (``latent_dim``); the decoder reconstructs x from [y, z]. Two adversarial heads regularise the
    two parts: ``discriminator`` matches z to N(0, I) (AAE's code discriminator), and
    ``category_discriminator`` matches y to a categorical prior (one-hot vectors of uniformly drawn
    classes). Each batch runs the paper's three phases, in its order: reconstruction (encoder +
    decoder, ``recon``), regularisation (both discriminators, ``D`` and ``Dcat``, then the encoder
    against both, ``G``), semi-supervised classification (the encoder's y head, cross-entropy on a
    mini-batch of the labelled subset, ``sup``, optimizer ``classifier`` with the generator-side lr).

    The labelled subset is the semi-supervised models' (``gan_lightning.models.shared.LabeledSubset``):
    ``num_labeled`` examples picked seeded and stratified at the start of a fresh fit, kept in the
    checkpoint; the training batches' labels are never read. ``classify(x)`` gives y's logits
    (``heldout_acc`` in validation); ``sample(labels=...)`` decodes [one-hot label, z ~ N(0, I)],
    so the class is a condition of the decoder.

    Defaults: 100 labels (the paper's MNIST setting), style z of 10 dimensions and discriminators of
    two hidden layers of 1000 units (the paper's MNIST networks: its appendix), the AAE's DCGAN-style
    encoder and decoder and Adam (lr 2e-4, betas (0.5, 0.999)) for every optimiser instead of the
    paper's SGD with momentum; ``supervised_weight`` (1) scales the classification phase. It is a class
    of its own, not an AAE option, so that a plain AAE's checkpoints keep their keys (the labelled
    subset lives in buffers).
    """

    paper = "Makhzani et al. 2015, Adversarial Autoencoders (section 5, semi-supervised)"
    smooths_real_labels = False  # its discriminators' targets are not smoothed (no real_target)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 10,
        num_classes: int = 10,
        g_width: int = 64,
        e_width: int = 64,
        code_hidden: Sequence[int] = (1000, 1000),
        num_labeled: int = 100,
        labeled_seed: int = 0,
        supervised_weight: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, g_width=g_width, e_width=e_width,
                         code_hidden=code_hidden, num_classes=num_classes, **kwargs)
        if supervised_weight < 0:
            raise ValueError(f"model.supervised_weight must be >= 0, got {supervised_weight}")
        self.supervised_weight = float(supervised_weight)
        channels, size = self.data_shape[0], self.data_shape[1]
        self.encoder = ConvEncoder(channels, size, e_width, num_classes + latent_dim)
        self.generator = DCGANGenerator(num_classes + latent_dim, channels, size, g_width)
        self.category_discriminator = MLPDiscriminator((num_classes,), tuple(code_hidden))
        self.init_labeled(num_labeled, num_classes, labeled_seed)

    # ------------------------------------------------------------------ declarations and networks
    def conditions(self) -> tuple[Condition, ...]:
        return (Condition("class", "label", self.num_classes),)

    def generate(self, z, labels=None, net=None, conditions=None):
        if labels is None:
            labels = cycle_labels(z.size(0), self.num_classes, z.device)
        else:
            labels = check_labels(labels, self.num_classes, z.size(0), values=not self.in_training_step).to(z.device)
        return (net or self.generator)(torch.cat([F.one_hot(labels, self.num_classes).to(z.dtype), z], dim=1))

    def encode_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y's logits (N, num_classes), the style z (N, latent_dim))."""
        out = self.encoder(x)
        return out[:, : self.num_classes], out[:, self.num_classes:]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The decoder's input for ``x``: [softmax(y), z]."""
        logits, style = self.encode_parts(x)
        return torch.cat([F.softmax(logits, dim=1), style], dim=1)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_parts(x)[0]

    def discriminate(self, x, labels=None):
        """The style discriminator's logit for the styles of ``x``."""
        return self.run_discriminator(self.encode_parts(x)[1])

    def on_train_start(self) -> None:
        self.pick_labeled_at_train_start()

    # ------------------------------------------------------------------ optimisation
    def optimizer_groups(self):
        return {**super().optimizer_groups(), "discriminator_category": self.category_discriminator.parameters(),
                "classifier": self.encoder.parameters()}

    def phases(self) -> list[Phase]:
        return [Phase("recon", "autoencoder", self.reconstruction_terms),
                Phase("D", "discriminator", self.code_discriminator_terms),
                Phase("Dcat", "discriminator_category", self.category_discriminator_terms),
                Phase("G", "encoder", self.encoder_terms),
                Phase("sup", "classifier", self.supervised_terms)]

    def categorical_prior(self, num: int, device) -> torch.Tensor:
        return F.one_hot(torch.randint(self.num_classes, (num,), device=device), self.num_classes).float()

    def code_discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            style = self.encode_parts(ctx.real)[1]
        prior_logits = self.run_discriminator(self.sample_noise(ctx.batch_size))
        code_logits = self.run_discriminator(style)
        return {"d_loss": nonsaturating_d(prior_logits, code_logits), "d_prior": prior_logits.mean(),
                "d_code": code_logits.mean()}

    def category_discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            categories = F.softmax(self.encode_parts(ctx.real)[0], dim=1)
        prior_logits = self.run_discriminator(self.categorical_prior(ctx.batch_size, categories.device),
                                              net="category_discriminator")
        code_logits = self.run_discriminator(categories, net="category_discriminator")
        return {"dcat_loss": nonsaturating_d(prior_logits, code_logits), "dcat_prior": prior_logits.mean(),
                "dcat_code": code_logits.mean()}

    def encoder_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        logits, style = self.encode_parts(ctx.real)
        style_loss = nonsaturating_g(self.run_discriminator(style))
        category_loss = nonsaturating_g(self.run_discriminator(F.softmax(logits, dim=1), net="category_discriminator"))
        return {"g_loss": style_loss + category_loss, "g_style": style_loss, "g_category": category_loss}

    def supervised_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        images, targets = self.labeled_batch(ctx.batch_size)
        logits = self.classify(images)
        supervised = F.cross_entropy(logits, targets)
        return {"sup_loss": self.supervised_weight * supervised, "supervised_ce": supervised,
                "acc_labeled": (logits.argmax(dim=1) == targets).float().mean()}

    def heldout_step(self, batch, batch_idx, stage):
        real = StepContext(batch).real
        prior = self.sample_noise(real.size(0), rng=torch.Generator().manual_seed(batch_idx))
        style = self.encode_parts(real)[1]
        scores = {f"{stage}/recon_loss": F.mse_loss(self.reconstruct(real), real),
                  f"{stage}/d_prior": self.run_discriminator(prior).mean(),
                  f"{stage}/d_code": self.run_discriminator(style).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))
