"""What several model families share, public so that model files import nothing private of each other.

- :class:`ShapedGAN`: the sizing options of the families whose G and D come from the data's shape.
- :class:`LabelConditioned`: the class condition of G(z, y) models (CGAN, ACGAN, BigGAN).
- :class:`CaptionConditioned`: the caption condition of the text-to-image models (GAN-INT-CLS, TAC-GAN,
  StackGAN, StackGAN++): the frozen caption encoder phi(t), ``tokenize`` and the held-out pair scores;
  :func:`resized`: real images averaged down to the size a stage draws.
- :func:`seeded`: a seeded, restored global RNG (the translators that draw noise: Pix2Pix's dropout, SPADE's z).
- :class:`MapsAToB`: the declarations of a model that maps images of domain a to domain b.
- :class:`TwoGeneratorTranslation`: ``translate`` both ways and the held-out cycle L1 of the
  two-generator translators with a ``generator`` ModuleDict ``{"ab", "ba"}`` (DiscoGAN, DualGAN).
- :class:`LabeledSubset` and its helpers: the labelled subset of the semi-supervised models
  (SemiSupervisedGAN, TripleGAN, SSInfoGAN).

The labelled subset: only ``num_labeled`` labels of the training set are ever read: at the start
of a fresh fit a seeded, stratified pick (``stratified_pick``) chooses them, and their images and
labels go into buffers (``labeled_index``, ``labeled_images``, ``labeled_targets``), so they are
saved in every checkpoint and a resumed run keeps them. The labels of the training batches are
never read. ``labeled_batch(n)`` draws a random labelled mini-batch from the subset;
``set_labeled`` sets the subset by hand. In validation (test) the model's ``classify`` logits are
scored against the held-out labels: ``heldout_acc`` (``test/heldout_acc``). The subset's size may
be known only once the data is (``SSInfoGAN``'s labelled fraction): the buffers are then resized
at the pick, and to the checkpoint's size when one is loaded.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from gan_lightning.core import StepContext
from gan_lightning.core.protocol import Condition, Output
from gan_lightning.core.rng import seeded_rng
from gan_lightning.data.captions import VOCABULARY, tokenize
from gan_lightning.errors import SettingError
from gan_lightning.models.base import GANModule
from gan_lightning.nets.builders import build_generator, build_networks
from gan_lightning.nets.conditional import check_labels, cycle_labels
from gan_lightning.nets.layers import eval_mode
from gan_lightning.nets.text import CaptionEncoder


# ---------------------------------------------------------------------------- class-conditional G(z, y)
class LabelConditioned(GANModule):
    """Shared label handling of the class-conditional models (G(z, y)): CGAN, ACGAN, BigGAN."""

    num_classes: int

    def conditions(self) -> tuple[Condition, ...]:
        return (Condition("class", "label", self.num_classes),)

    def resolve_labels(self, labels: torch.Tensor | None, num: int, device) -> torch.Tensor:
        """The given labels, checked and moved to ``device``; 0, 1, ..., K-1, 0, ... when none are given.
        Their values are read outside training steps only (:func:`~gan_lightning.nets.conditional.check_labels`)."""
        if labels is None:
            return cycle_labels(num, self.num_classes, device)
        return check_labels(labels, self.num_classes, num, values=not self.in_training_step).to(device)

    def batch_labels(self, labels: torch.Tensor | None) -> torch.Tensor:
        if labels is None:
            raise SettingError(f"{type(self).__name__} trains on labelled data: batches of (image, label); this data "
                               f"module gives none (ImageFolder gives labels with one sub-folder per class)")
        return labels

    def generate(self, z, labels=None, net=None, conditions=None):
        return (net or self.generator)(z, self.resolve_labels(labels, z.size(0), z.device))


# ---------------------------------------------------------------------------- caption-conditioned G(z, t)
class CaptionConditioned(GANModule):
    """Shared caption handling of the text-to-image models: G draws from a caption's token ids through phi(t),
    the project's caption encoder (:mod:`gan_lightning.pretrained`), frozen and saved with the model.

    ``text_encoder``: a caption encoder file, ``None`` for the project's cached one (trained on first use),
    or ``random`` for a seeded untrained one (tests, smoke runs). It is loaded when a fit starts; a
    checkpoint carries it. A model defines ``judge(images, captions)`` (D's logit that each image matches
    its caption); the held-out steps log D's mean score of real, wrong (the next image's) and fake pairs.
    """

    data_kinds = ("captioned",)

    def __init__(self, text_encoder: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text_encoder_source = text_encoder
        with seeded_rng(0):  # a placeholder: loaded (or trained) at fit start, or from a checkpoint
            self.text_encoder = CaptionEncoder(len(VOCABULARY)).requires_grad_(False)
        self.register_buffer("text_encoder_ready", torch.tensor(int(text_encoder == "random"), dtype=torch.uint8))

    def on_fit_start(self) -> None:
        """The caption encoder's weights, once: from ``text_encoder`` (or the project's cache, trained on
        first use) on a fresh fit; a resumed fit has them from its checkpoint."""
        super().on_fit_start()
        if not int(self.text_encoder_ready):
            from gan_lightning.pretrained import caption_encoder

            self.text_encoder.load_state_dict(caption_encoder(self.text_encoder_source).state_dict())
            self.text_encoder_ready.fill_(1)

    def conditions(self) -> tuple[Condition, ...]:
        return (Condition("text", "caption", len(VOCABULARY)),)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids of ``texts`` (``gan-lightning sample --text``), on the host."""
        return torch.stack([tokenize(text) for text in texts])

    @torch.no_grad()
    def embed(self, caption: torch.Tensor) -> torch.Tensor:
        """phi(t): the frozen encoder's sentence embedding, in eval mode."""
        self.text_encoder.eval()
        return self.text_encoder(caption)[0]

    def discriminate(self, x, labels=None):
        raise TypeError(f"{type(self).__name__}'s D judges (image, caption) pairs: call judge(images, captions)")

    def judge(self, images: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """D's logit that each image matches its caption."""
        raise NotImplementedError(f"{type(self).__name__} defines no judge(images, captions)")

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        ctx = StepContext(batch, real_key=self.output().key)
        z = self.sample_noise(ctx.batch_size, rng=torch.Generator().manual_seed(batch_idx))
        fake = self.generate(z, conditions={"caption": ctx.caption})
        scores = {f"{stage}/d_real": self.judge(ctx.real, ctx.caption).mean(),
                  f"{stage}/d_wrong": self.judge(ctx.real.roll(1, dims=0), ctx.caption).mean(),
                  f"{stage}/d_fake": self.judge(fake, ctx.caption).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=ctx.batch_size)


def resized(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images averaged down to ``size`` (as CaptionedDigits makes its 32 px images); as they are at their size."""
    return images if images.size(-1) == size else F.interpolate(images, size=(size, size), mode="area")

# ---------------------------------------------------------------------------- image-to-image
def seeded(seed: int | None, device: torch.device):
    """A context in which the global RNG (CPU and CUDA) is seeded with ``seed`` and restored after;
    nothing when ``seed`` is None."""
    return contextlib.nullcontext() if seed is None else seeded_rng(seed, device)


class MapsAToB:
    """Declarations of a ``GANModule`` that maps images of domain a (batch key ``"a"``) to domain b (``"b"``)."""

    def conditions(self) -> tuple[Condition, ...]:
        return (Condition("image", "a"),)

    def output(self) -> Output:
        return Output("image", self.data_shape, key="b")


class TwoWayTranslation(MapsAToB):
    """Declarations of a ``GANModule`` that translates both ways (``translate(images, "AtoB" | "BtoA")``);
    its held-out score is the cycle L1."""

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """Cycle L1 on held-out images, A -> B -> A and B -> A -> B."""
        ctx = StepContext(batch)
        cycle_a = F.l1_loss(self.translate(self.translate(ctx.a), "BtoA"), ctx.a)
        cycle_b = F.l1_loss(self.translate(self.translate(ctx.b, "BtoA")), ctx.b)
        self.log_dict({f"{stage}/cycle_a": cycle_a, f"{stage}/cycle_b": cycle_b}, on_epoch=True,
                      batch_size=ctx.a.size(0))


class TwoGeneratorTranslation(TwoWayTranslation):
    """Mixin for a ``GANModule`` whose ``generator`` is ``nn.ModuleDict({"ab": G_AB, "ba": G_BA})``."""

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: Literal["AtoB", "BtoA"] = "AtoB",
                  use_ema: bool = False) -> torch.Tensor:
        """G_AB(images) (``AtoB``) or G_BA(images) (``BtoA``), in eval mode; ``use_ema``: the EMA copy."""
        key = {"AtoB": "ab", "BtoA": "ba"}.get(direction)
        if key is None:
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        nets = self.generator_ema if use_ema and self.generator_ema is not None else self.generator
        net = nets[key]
        with eval_mode(net):
            return net(images.to(self.device))


# ---------------------------------------------------------------------------- the labelled subset


def stratified_pick(labels, num_labeled: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of ``num_labeled`` examples, num_labeled // num_classes per class (the first
    num_labeled % num_classes classes get one more), drawn with a generator seeded by ``seed``."""
    labels = torch.as_tensor(labels).long().flatten()
    if num_labeled < num_classes:
        raise ValueError(f"num_labeled ({num_labeled}) must be at least num_classes ({num_classes})")
    per_class, extra = divmod(num_labeled, num_classes)
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for cls in range(num_classes):
        members = torch.nonzero(labels == cls).flatten()
        wanted = per_class + (1 if cls < extra else 0)
        if len(members) < wanted:
            raise ValueError(f"class {cls} has {len(members)} examples, fewer than the {wanted} to label")
        picked.append(members[torch.randperm(len(members), generator=generator)[:wanted]])
    return torch.cat(picked).sort().values


def dataset_labels(dataset: Dataset) -> torch.Tensor:
    """Every label of a data set of (x, label) pairs; fast for (subsets of) tensor data sets."""
    from gan_lightning.evaluation.per_class import source_labels

    try:
        return source_labels(dataset)
    except ValueError:
        raise SettingError("a semi-supervised model needs a labelled training set of (image, label) pairs; this data "
                           "module gives none (ImageFolder gives labels with one sub-folder per class)") from None


def dataset_images(dataset: Dataset, index) -> torch.Tensor:
    """The images of ``dataset`` at ``index`` (a tensor or sequence of ints), stacked."""
    return torch.stack([torch.as_tensor(dataset[i][0]) for i in torch.as_tensor(index).tolist()])


class LabeledSubset:
    """Mixin of a ``GANModule``: the labelled subset in buffers. Call ``init_labeled`` in ``__init__``."""

    num_classes: int
    labeled_seed: int

    def init_labeled(self, num_labeled: int, num_classes: int, labeled_seed: int = 0) -> None:
        if num_classes < 2:
            raise ValueError(f"model.num_classes must be >= 2, got {num_classes}")
        if num_labeled < num_classes:
            raise ValueError(f"model.num_labeled ({num_labeled}) must be at least num_classes ({num_classes})")
        self.num_classes, self.labeled_seed = num_classes, labeled_seed
        # index -1 means "not chosen yet"
        self.register_buffer("labeled_index", torch.full((num_labeled,), -1, dtype=torch.long))
        self.register_buffer("labeled_images", torch.zeros(num_labeled, *self.data_shape))
        self.register_buffer("labeled_targets", torch.zeros(num_labeled, dtype=torch.long))
        self._labeled_verified = False  # has_labeled seen true for these buffers (read once, not every step)

    @property
    def num_labeled(self) -> int:
        return int(self.labeled_index.numel())

    @property
    def has_labeled(self) -> bool:
        return bool((self.labeled_index >= 0).all())

    def resize_labeled(self, num_labeled: int) -> None:
        """Empty buffers for a subset of ``num_labeled`` (before a pick or a checkpoint's subset)."""
        if num_labeled != self.num_labeled:
            self._labeled_verified = False
            device = self.labeled_index.device
            self.labeled_index = torch.full((num_labeled,), -1, dtype=torch.long, device=device)
            self.labeled_images = torch.zeros(num_labeled, *self.data_shape, device=device)
            self.labeled_targets = torch.zeros(num_labeled, dtype=torch.long, device=device)

    def labeled_count(self, dataset: Dataset) -> int:
        """How many labels to pick from ``dataset`` (a fixed number; SSInfoGAN: a fraction of it)."""
        return self.num_labeled

    @torch.no_grad()
    def set_labeled(self, images: torch.Tensor, targets: torch.Tensor, index: torch.Tensor | None = None) -> None:
        """Use these ``num_labeled`` images and labels as the labelled subset."""
        targets = torch.as_tensor(targets).long().flatten()
        if images.size(0) != self.num_labeled or targets.numel() != self.num_labeled:
            raise ValueError(f"expected {self.num_labeled} labelled images and labels, "
                             f"got {images.size(0)} and {targets.numel()}")
        if int(targets.min()) < 0 or int(targets.max()) >= self.num_classes:
            raise ValueError(f"labels must lie in [0, {self.num_classes})")
        self.labeled_images.copy_(images)
        self.labeled_targets.copy_(targets)
        self.labeled_index.copy_(torch.arange(self.num_labeled) if index is None else torch.as_tensor(index))
        self._labeled_verified = True

    def select_labeled(self, dataset: Dataset) -> torch.Tensor:
        """Pick the labelled subset of ``dataset`` (seeded, stratified); returns the chosen indices."""
        labels = dataset_labels(dataset)
        self.resize_labeled(self.labeled_count(dataset))
        index = stratified_pick(labels, self.num_labeled, self.num_classes, self.labeled_seed)
        self.set_labeled(dataset_images(dataset, index), labels[index], index)
        return index

    def labeled_batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) of ``min(size, num_labeled)`` distinct random members of the subset."""
        if not self._labeled_verified:  # read once, not every step: the host waits for a GPU
            if not self.has_labeled:
                raise RuntimeError(f"{type(self).__name__} has no labelled subset: train it with a Trainer, "
                                   "or call set_labeled")
            self._labeled_verified = True
        pick = torch.randperm(self.num_labeled, device=self.labeled_index.device)[: min(size, self.num_labeled)]
        return self.labeled_images[pick], self.labeled_targets[pick]

    def pick_labeled_at_train_start(self) -> bool:
        """On a fresh run, pick the subset from the training set; True when it picked (not on resume)."""
        if self.has_labeled:  # a resumed run keeps the subset of its checkpoint
            self._labeled_verified = True
            return False
        self.select_labeled(self.trainer.train_dataloader.dataset)
        return True

    # ------------------------------------------------------------------ held-out accuracy
    def _log_accuracy(self, batch, name: str) -> None:
        """Accuracy of ``classify`` (class logits) on a held-out batch's labels."""
        ctx = StepContext(batch)
        if ctx.labels is None:
            return
        accuracy = (self.classify(ctx.real).argmax(dim=1) == ctx.labels).float().mean()
        self.log(name, accuracy, on_epoch=True, on_step=False, batch_size=ctx.batch_size)

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        self._log_accuracy(batch, "heldout_acc")

    def test_step(self, batch, batch_idx):
        super().test_step(batch, batch_idx)
        self._log_accuracy(batch, "test/heldout_acc")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # runs before the state dict is loaded: take the checkpoint's subset size
        saved = checkpoint.get("state_dict", {}).get("labeled_index")
        if saved is not None:
            self.resize_labeled(int(saved.numel()))
        super().on_load_checkpoint(checkpoint)


# ---------------------------------------------------------------------------- networks picked by the data's shape
class ShapedGAN(GANModule):
    minibatch_discrimination_applies = True  # D from shaped_networks (the shared builders)
    mode_seeking_applies = True  # G draws its samples from noise in the default step

    """Base of the families whose G and D come from the data's shape (:func:`gan_lightning.nets.build_networks`):
    MLPs for vectors (the 2-D mixtures), the DCGAN networks for square images. The sizing options are
    declared once here; a family declares only its own (and those whose default it changes).
    ``minibatch_discrimination`` reaches D through ``shaped_networks`` (a family whose D is built otherwise
    sets ``minibatch_discrimination_applies = False``).

    Args:
        g_hidden / d_hidden: the MLPs' hidden widths. g_width / d_width: the DCGAN networks' base widths.
        d_norm: the DCGAN discriminator's hidden normalisation (``batch``, ``none`` or ``layer``).
        g_norm: G's hidden normalisation (``batch``, ``virtual`` batch norm (Salimans et al. 2016) or ``none``).
        The other arguments: :class:`~gan_lightning.models.base.GANModule`'s.
    """

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        g_hidden: Sequence[int] = (400, 400, 400, 400),
        d_hidden: Sequence[int] = (200, 200, 200),
        g_width: int = 64,
        d_width: int = 64,
        d_norm: Literal["batch", "none", "layer"] = "batch",
        g_norm: Literal["batch", "virtual", "none"] = "batch",
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        self.g_hidden, self.d_hidden = tuple(g_hidden), tuple(d_hidden)
        self.g_width, self.d_width, self.d_norm, self.g_norm = g_width, d_width, d_norm, g_norm

    def shaped_generator(self) -> nn.Module:
        """G for the data's shape, sized by ``g_hidden`` / ``g_width``."""
        return build_generator(self.data_shape, self.latent_dim, self.g_hidden, self.g_width, g_norm=self.g_norm)

    def shaped_networks(self, **options) -> tuple[nn.Module, nn.Module]:
        """(G, D) for the data's shape; ``options`` as :func:`~gan_lightning.nets.build_networks` takes them
        (``spectral_norm``, ``pack``, ``d_outputs``, ``architecture``)."""
        return build_networks(self.data_shape, self.latent_dim, self.g_hidden, self.d_hidden, self.g_width,
                              self.d_width, d_norm=self.d_norm, g_norm=self.g_norm,
                              **self.minibatch_options(), **options)


def read_stage_checkpoint(model: GANModule, path: str, key: str, fit: str, stage: Any,
                          matching: Sequence[str]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The checkpoint ``path`` of the earlier stage's fit that a later stage builds on (StackGAN's Stage I,
    S2GAN's Structure-GAN): (its G's weights, the EMA copy's where it has one, without the prefix; its whole
    state dict). One line naming ``key`` for a missing file, a checkpoint of another ``stage``, or one of the
    ``matching`` settings that differs from ``model``'s; ``fit`` says which fit to give ("a StackGAN Stage I
    fit (model.stage 1)")."""
    from pathlib import Path

    if not Path(path).is_file():
        raise SettingError(f"{key}: no file {path!r}; give the checkpoint of {fit}")
    saved = torch.load(path, map_location="cpu", weights_only=False)
    arguments = saved.get("hyper_parameters", {})
    arguments = arguments.get("init_args", arguments) if isinstance(arguments, dict) else {}
    if arguments.get("stage", stage) != stage:
        raise SettingError(f"{key}: {path!r} is a model.stage {arguments.get('stage')!r} checkpoint; give the "
                           f"checkpoint of {fit}")
    for name in matching:
        theirs, ours = arguments.get(name, getattr(model.hparams, name, None)), getattr(model.hparams, name, None)
        if theirs != ours:
            raise SettingError(f"model.{name}: {ours} here, {theirs} in the checkpoint {path!r} of {fit}; set it as "
                               f"that fit had it")
    state = saved.get("state_dict", {})
    net = "generator_ema." if any(k.startswith("generator_ema.") for k in state) else "generator."
    return {k[len(net):]: v for k, v in state.items() if k.startswith(net)}, state


class OwnClassifier:
    """A mixin for a model whose own classifier ``self.encoder`` (images -> class logits) trains first, on the
    batches' labels, then stays fixed (StackedGAN's encoder, PPGN's C; never the evaluation's digit judge):
    its loss terms for that window's phase, and its held-out accuracy (``encoder_acc``) beside the default
    held-out scores."""

    def encoder_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        logits = self.encoder(ctx.real)
        return {"e_loss": F.cross_entropy(logits, ctx.labels),
                "e_acc": (logits.detach().argmax(1) == ctx.labels).float().mean()}

    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        super().heldout_step(batch, batch_idx, stage)
        ctx = StepContext(batch)
        accuracy = (self.encoder(ctx.real).argmax(1) == ctx.labels).float().mean()
        self.log(f"{stage}/encoder_acc", accuracy, on_epoch=True, batch_size=ctx.batch_size)
