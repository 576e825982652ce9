"""StarGAN: Choi et al. 2018, "StarGAN: Unified Generative Adversarial Networks for Multi-Domain
Image-to-Image Translation" (CVPR).

One generator for every domain: G(x, c) sees the image concatenated with the target attribute
vector c tiled over the image plane. One D with two heads on a shared body: a source head
(a patch map of real/fake scores) and an attribute classifier (num_attributes logits).

Losses (the paper's Eq. 1-7; weights from the authors' code, yunjey/stargan main.py):
- D: WGAN-GP, E D_src(G(x, c)) - E D_src(x) + lambda_gp * (||grad D_src(x_hat)||_2 - 1)^2
  (one interpolation factor per sample, the norm over each sample's flattened gradient), plus
  lambda_cls * BCE(D_cls(x), c_original) on *real* images;
- G: -E D_src(G(x, c)) + lambda_cls * BCE(D_cls(G(x, c)), c_target)
  + lambda_rec * |x - G(G(x, c), c_original)|_1 (cycle reconstruction with the original attributes).
The classification loss is binary cross-entropy with logits summed over the attributes and
averaged over the batch (solver.py's ``size_average=False`` then ``/ batch size``).
Target attributes are the batch's own attribute vectors in a random order
(``label_trg = label_org[randperm]``), drawn from the global RNG (checkpointed by the core).

Defaults (the authors' code): lambda_gp 10, lambda_cls 1, lambda_rec 10; n_critic 5 (G on every
5th iteration); Adam lr 1e-4 for both networks, betas (0.5, 0.999); G width 64 with two
stride-2 4x4 downsamplings, 6 residual blocks, two 4x4 transposed-conv upsamplings, 7x7 convs at
both ends, zero padding (the authors note tiling c does not work with reflection padding) and
no biases before a norm; D: 6 stride-2 4x4 convs doubling the width from 64, LeakyReLU 0.01, no
norm, a 3x3 source conv and a class conv covering the whole remaining map; PyTorch's default
initialisation; CelebA attributes Black_Hair, Blond_Hair, Brown_Hair, Male, Young (5).

Learning-rate decay: the paper decays both rates linearly to 0 over the second half of training
(200k iterations, the last 100k decaying). The authors' code subtracts lr / 100k every 1,000
iterations, which only lowers the rate by 0.1 % in all; this model follows the paper through
the core's ``lr_decay_iters`` (the configs set it to half of ``max_steps``).

Normalisation, train vs eval: the authors' G uses InstanceNorm(affine=True,
track_running_stats=True) but never calls ``eval()`` (solver.py), so every output they report
uses each image's own statistics and the running averages are never read (yunjey/stargan #140;
StarGAN v2 drops them). Here the norms are affine InstanceNorm without running statistics: the
authors' computation, the same in train and eval mode, and ``translate`` changes no buffer.
Neither network has dropout or BatchNorm, so ``translate`` is deterministic in either mode.

The lost digit (issue 26), found: the widths. The reconstruction/identity path matches the authors'
solver.py line for line (G(G(x, c_target), c_original) against x, mean L1 times lambda_rec 10; targets the
batch's own vectors permuted; G on every 5th iteration counted as theirs, (i + 1) % n_critic; the
classification loss summed over attributes; the gradient penalty on one interpolation per sample; no weight
decay; PyTorch's initialisation). The digits experiment had narrowed the networks to G 16 / D 32 channels
(the authors': 64 / 64), and so G kept only the attributes: label preservation 10.8 % at the recipe's 3,000
iterations (9.7 % without the reconstruction term: chance), reconstruction L1 0.243. At the authors' widths,
now the experiment's, G keeps the digit on 52.5 % at 3,000 iterations (reconstruction L1 0.102), 31.5 % without
the term, and its own run in section ``translation`` 52.1 % (benchmarks/RESULTS.md, sections
``translation_curve_stargan`` and ``translation``; seed 0); on seed 1 only 20.4 % against 16.1 % without the term
(near chance to 1,250 iterations, then climbing); on seed 2 34.1 % against 19.1 %. Over the three seeds the term
keeps the digit more often, 35.7 % vs 22.2 % (+13.5 points, standard error 4.9: beyond twice it; over seeds 0 and 1
alone +12.7, standard error 8.4, not separated). Diagnostic runs outside the benchmarks (not in
RESULTS.md): G trained alone as an identity map (600 steps of Adam 1e-4) kept the digit on 50 % at width 16
and 81 % at 64; at 16 / 32, without the quarter-turn attribute the digit was lost too (6.2 %), and 9,000
iterations reached only 19.0 %.

Training with several label sets (section 3.2, "Training with Multiple Datasets"; the authors'
solver.py, ``train_multi`` for ``dataset='Both'``): ``label_sets=[a, b]`` cuts the attribute vector
into consecutive sets of a and b attributes (the paper's CelebA and RaFD labels; here two groups of
``DigitAttributes``, e.g. [colored] and [thick, rotated, inverted]). Each batch is labelled by one set
only, in turn (iteration i: set i mod the number of sets; the authors run a CelebA batch, then a RaFD
batch); its other labels are unknown. G's domain label is [set 1 part, set 2 part, ..., mask], the
unknown parts zero and the mask the one-hot of the batch's set (G takes num_attributes + number of
sets values); D's classifier keeps num_attributes logits and its classification loss (on reals, and
G's on translations) covers only the known set's part. Targets: the known part of the batch's own
vectors, permuted. What differs from the authors: the two sets label the same images (the data's
other labels are dropped, not absent), and one set per iteration (theirs: both in every iteration).
``translate`` then takes the domain label (num_attributes + sets values) or num_attributes values and
``label_set=``.

Logged: ``d_adv``, ``d_cls``, ``gp``, ``wasserstein``; ``g_adv``, ``g_cls``, ``g_rec``;
held out: ``val/cls_acc_real`` (D's classifier on real images), ``val/cls_acc_fake`` (D's
classifier agreeing with the target attributes of translations) and ``val/rec_l1``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core.protocol import Condition
from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import gradient_penalty, wasserstein_d, wasserstein_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.stargan import StarGANDiscriminator, StarGANGenerator

CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def attribute_loss(logits: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with logits, summed over the attributes, averaged over the batch (the authors')."""
    return F.binary_cross_entropy_with_logits(logits, attributes.to(logits.dtype), reduction="sum") / logits.size(0)


@register_model
class StarGAN(GANModule):
    """StarGAN (see the module docstring for the recipe and where each default comes from).

    Args:
        data_shape: (C, H, W) of the images; H = W divisible by 2^d_layers.
        num_attributes: length of the attribute vector (5: the authors' CelebA selection).
        g_width, d_width: channels of G's first conv and of D's first conv (64, 64).
        g_blocks: residual blocks of G (6).
        d_layers: stride-2 convs of D (6 at 128 px, a 2x2 map; 4 at 32 px gives the same).
        cls_weight, rec_weight, gp_weight: lambda_cls (1), lambda_rec (10), lambda_gp (10).
        label_sets: None (one label set), or the sizes of two or more consecutive label sets of the
            attribute vector (summing to num_attributes): the mask vector of section 3.2.
    """

    paper = "Choi et al. 2018, StarGAN: Unified GANs for Multi-Domain Image-to-Image Translation"
    data_kinds = ("attributes",)
    recipe = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.999), "critic_steps": 5}

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 128, 128),
        num_attributes: int = 5,
        g_width: int = 64,
        d_width: int = 64,
        g_blocks: int = 6,
        d_layers: int = 6,
        cls_weight: float = 1.0,
        rec_weight: float = 10.0,
        gp_weight: float = 10.0,
        label_sets: list[int] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=1, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"StarGAN needs square images (C, H, W), got data_shape {self.data_shape}")
        if num_attributes < 1:
            raise ValueError(f"model.num_attributes must be >= 1, got {num_attributes}")
        if label_sets is not None and (len(label_sets) < 2 or min(label_sets) < 1
                                       or sum(label_sets) != num_attributes):
            raise ValueError(f"model.label_sets must be None or two or more sizes >= 1 summing to num_attributes "
                             f"({num_attributes}), got {label_sets}")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.num_attributes = num_attributes
        self.label_sets = list(label_sets) if label_sets is not None else None
        self.num_sets = len(self.label_sets) if self.label_sets else 0
        # G's domain label: the attributes, then the mask (one value per label set)
        self.domain_size = num_attributes + self.num_sets
        self.cls_weight, self.rec_weight, self.gp_weight = cls_weight, rec_weight, gp_weight
        self.generator = StarGANGenerator(channels, self.domain_size, g_width, g_blocks)
        self.discriminator = StarGANDiscriminator(channels, size, num_attributes, d_width, d_layers)

    # ------------------------------------------------------------------ declarations
    def conditions(self) -> tuple[Condition, ...]:
        """An image to translate and the target attribute vector."""
        return (Condition("image", "image"), Condition("attributes", "attributes", self.domain_size))

    # ------------------------------------------------------------------ label sets (mask vector)
    def known_part(self, label_set: int | None) -> slice:
        """The attribute columns label set ``label_set`` knows (every column without label sets)."""
        if not self.label_sets:
            return slice(0, self.num_attributes)
        if label_set is None or not 0 <= label_set < self.num_sets:
            raise ValueError(f"label_set must be in [0, {self.num_sets - 1}] (label_sets {self.label_sets}), "
                             f"got {label_set}")
        start = sum(self.label_sets[:label_set])
        return slice(start, start + self.label_sets[label_set])

    def domain_label(self, attributes: torch.Tensor, label_set: int | None = None) -> torch.Tensor:
        """G's condition: the attributes as they are without label sets; with them, the known set's
        part of ``attributes`` (N, num_attributes), every other part zero, then the set's one-hot mask."""
        if not self.label_sets:
            return attributes
        part = self.known_part(label_set)
        label = torch.zeros(attributes.size(0), self.domain_size, dtype=attributes.dtype, device=attributes.device)
        label[:, part] = attributes[:, part]
        label[:, self.num_attributes + label_set] = 1
        return label

    # ------------------------------------------------------------------ discriminator heads
    def discriminate(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        """D's source (real/fake) patch map."""
        return self.run_discriminator(x)[0]

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """D's attribute logits, (N, num_attributes)."""
        return self.run_discriminator(x)[1]

    # ------------------------------------------------------------------ training
    def check_attributes(self, attributes: torch.Tensor) -> torch.Tensor:
        """The batch's attribute vectors as floats; one line when their length is not num_attributes."""
        if attributes.dim() != 2 or attributes.size(1) != self.num_attributes:
            got = attributes.size(-1) if attributes.dim() else 0
            raise ValueError(f"StarGAN was built with num_attributes={self.num_attributes} but the data's attribute "
                             f"vectors have {got} values: set model.num_attributes to {got}")
        return attributes.float()

    def prepare_step(self, ctx: StepContext) -> None:
        """Original and target attributes (the batch's own vectors, permuted), and G(x, target).
        With label sets: this iteration's set (``ctx.label_set``), whose part alone is known."""
        ctx.original = self.check_attributes(ctx.attributes)
        order = torch.randperm(ctx.batch_size, device=ctx.original.device)
        ctx.target = ctx.original[order]
        ctx.label_set = ctx.iteration % self.num_sets if self.label_sets else None
        ctx.known = self.known_part(ctx.label_set)
        ctx.c_original = self.domain_label(ctx.original, ctx.label_set)
        ctx.c_target = self.domain_label(ctx.target, ctx.label_set)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.generator(ctx.real, ctx.c_target)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        source_real, class_real = self.run_discriminator(ctx.real)
        source_fake, _ = self.run_discriminator(ctx.fake.detach())
        adversarial = wasserstein_d(source_real, source_fake)
        penalty = gradient_penalty(self.discriminate, ctx.real, ctx.fake)
        # real images, their own attributes (the known set's part)
        classification = attribute_loss(class_real[:, ctx.known], ctx.original[:, ctx.known])
        return {"d_loss": adversarial + self.cls_weight * classification + self.gp_weight * penalty,
                "d_adv": adversarial, "d_cls": classification, "gp": penalty, "wasserstein": -adversarial}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        source_fake, class_fake = self.run_discriminator(ctx.fake)
        adversarial = wasserstein_g(source_fake)
        # translations, the attributes asked for (the known set's part)
        classification = attribute_loss(class_fake[:, ctx.known], ctx.target[:, ctx.known])
        reconstruction = (ctx.real - self.generator(ctx.fake, ctx.c_original)).abs().mean()
        return {"g_loss": adversarial + self.cls_weight * classification + self.rec_weight * reconstruction,
                "g_adv": adversarial, "g_cls": classification, "g_rec": reconstruction}

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """D's attribute accuracy on held-out images and on their translations, and the reconstruction L1.
        With label sets: batch i translates within set i mod the number of sets, scored on its part."""
        ctx = StepContext(batch)
        original = self.check_attributes(ctx.attributes)
        order = torch.randperm(ctx.batch_size, generator=torch.Generator().manual_seed(batch_idx))
        target = original[order.to(original.device)]
        label_set = batch_idx % self.num_sets if self.label_sets else None
        known = self.known_part(label_set)
        fake = self.generator(ctx.real, self.domain_label(target, label_set))
        scores = {f"{stage}/cls_acc_real": ((self.classify(ctx.real) > 0).float() == original).float().mean(),
                  f"{stage}/cls_acc_fake": ((self.classify(fake)[:, known] > 0).float() == target[:, known])
                  .float().mean(),
                  f"{stage}/rec_l1": (ctx.real - self.generator(fake, self.domain_label(original, label_set)))
                  .abs().mean()}
        self.log_dict(scores, on_epoch=True, batch_size=ctx.batch_size)

    # ------------------------------------------------------------------ translation
    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB", attributes=None,
                  use_ema: bool = True, label_set: int | None = None) -> torch.Tensor:
        """G(images, attributes) in [-1, 1]: ``attributes`` is one vector of num_attributes 0/1 values
        for every image, or one per image (N, num_attributes). ``direction`` must be ``AtoB`` (one
        generator serves every target). The EMA generator when there is one (``use_ema``).
        Deterministic, and the same in train and eval mode (no running statistics, no dropout).
        With ``label_sets``: ``attributes`` is G's domain label (num_attributes + sets values, the mask
        included), or num_attributes values and ``label_set`` (the set whose part is used)."""
        if direction != "AtoB":
            raise ValueError(f"StarGAN has one generator for every target: give the target with attributes=, "
                             f"direction must be AtoB, got {direction!r}")
        if attributes is None:
            raise ValueError(f"StarGAN.translate needs attributes=: the target vector of {self.num_attributes} "
                             f"values (0/1), or one per image")
        images = images.to(self.device)
        attributes = torch.as_tensor(attributes, dtype=images.dtype).to(self.device)
        if attributes.dim() == 1:
            attributes = attributes.expand(images.size(0), -1)
        if self.label_sets and attributes.shape == (images.size(0), self.num_attributes):
            if label_set is None:
                raise ValueError(f"StarGAN with label_sets {self.label_sets} needs label_set= (0 to "
                                 f"{self.num_sets - 1}) with {self.num_attributes} attributes, or the domain label "
                                 f"of {self.domain_size} values (mask included)")
            attributes = self.domain_label(attributes, label_set)
        if attributes.shape != (images.size(0), self.domain_size):
            raise ValueError(f"attributes must have shape ({self.domain_size},) or ({images.size(0)}, "
                             f"{self.domain_size}), got {tuple(attributes.shape)}")
        net = self.sampling_generator if use_ema else self.generator
        return net(images, attributes)

    @torch.no_grad()
    def preview_grid(self, num_samples: int = 64, nrow: int = 8, use_ema: bool = True,
                     inputs: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
        """One row per held-out input: the input, then its translation with each single attribute
        flipped (the paper's Fig. 1 layout). Grid inputs carry no attributes: what is flipped is D's
        classifier's reading of the input (logit > 0). Rows: ``num_samples // (num_attributes + 1)``."""
        if inputs is None:
            raise ValueError("StarGAN.preview_grid needs held-out inputs")
        columns = self.num_attributes + 1
        inputs = inputs[:max(1, min(len(inputs), num_samples // columns))].to(self.device)
        was_training = self.training
        self.eval()  # no augmentation of D's input (set_discriminator_augment) in a picture
        try:
            estimated = (self.classify(inputs) > 0).to(inputs.dtype)
        finally:
            self.train(was_training)
        row = [inputs]
        for k in range(self.num_attributes):
            flipped = estimated.clone()
            flipped[:, k] = 1 - flipped[:, k]
            # with label sets: the set that holds attribute k, its part read by D, the rest unknown
            label_set = (next(i for i in range(self.num_sets) if k < sum(self.label_sets[:i + 1]))
                         if self.label_sets else None)
            row.append(self.translate(inputs, attributes=self.domain_label(flipped, label_set), use_ema=use_ema))
        return torch.stack(row, dim=1).flatten(0, 1), columns
