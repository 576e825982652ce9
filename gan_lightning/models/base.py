"""``GANModule``: the phase-based core every GAN family stands on (manual optimization).

A model file holds only what differs: its networks, its loss terms, its phases and its
recipe. The core owns, once for every model:

- **named optimizers**: ``optimizer_groups()`` maps a name to parameters; each group gets one
  optimizer whose settings come from ``optimizer`` / ``lr_g`` / ``lr_d`` / ``betas`` /
  ``momentum`` / ``weight_decay`` (``lr_d`` for groups named ``discriminator*``, ``lr_g`` for
  the rest), the model's ``recipe`` for the ones left unset, and the per-network table
  ``optimizers: {name: {lr: ..., betas: ...}}``;
- **phases**: ``phases()`` lists :class:`~gan_lightning.core.Phase` objects; each iteration
  builds a :class:`~gan_lightning.core.StepContext` from the batch, calls
  ``prepare_step(ctx)``, then runs the due phases in order (toggle, backward, optional
  clipping, step, the phase's ``after``), steps the LR schedules and logs every term;
  the default list is D then G with ``critic_steps`` (n_critic), so a simple family writes
  only ``discriminator_loss`` and ``generator_loss``;
- **one discriminator entry point**: every D call goes through ``run_discriminator``, where
  an augmentation installed with ``set_discriminator_augment`` applies to every model;
- **declarations**: ``conditions()`` (what G is conditioned on: classes, attributes, text, an
  input image ...) and ``output()`` (an image, a video, voxels, tokens, a vector), which the step
  context, sampling, the sample grid, the EMA, the CLI and evaluation read
  (:mod:`gan_lightning.core.protocol`);
- **sampling**: ``sample(num, labels=..., conditions=..., rng=...)``, ``translate(images)`` for
  models whose condition is an input image, and ``preview_grid`` for the sample-grid callback;
- **training state** that is not a parameter (``self.training_state``), saved in the
  checkpoint and restored on resume together with the RNG states;
- iteration counting, DDP and toggling workarounds (``gan_lightning.core.compat``).

``--trainer.max_steps``, ``every_n_train_steps`` and the logged step count iterations
(batches), whatever the number of phases.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from typing import Any, Callable, ClassVar, Iterable, Literal, Mapping, Sequence

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from gan_lightning.core import compat, fast
from gan_lightning.core.arguments import caller_frame
from gan_lightning.core.optim import OptimizerSettings, build_optimizer, linear_decay
from gan_lightning.core.phases import Phase, StepContext
from gan_lightning.core.protocol import (Condition, Output, class_condition, grid_pictures, output_for_shape,
                                         stage_pictures)
from gan_lightning.core.state import ReplayPool, TrainingState
from gan_lightning.errors import SettingError
from gan_lightning.losses.regularizers import HistoricalAverages
from gan_lightning.nets.layers import eval_mode

# The optimisation settings every model starts from; a model's ``recipe`` overrides them.
BASE_RECIPE: dict[str, Any] = {
    "optimizer": "adam", "lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999), "momentum": 0.0,
    "weight_decay": 0.0, "critic_steps": 1,
}


class GANModule(L.LightningModule):
    """Base class of every GAN family.

    Args:
        data_shape: shape of one sample, e.g. ``(1, 28, 28)`` or ``(2,)``; the CLI links it from the data module.
        latent_dim: size of the noise vector z ~ N(0, I).
        critic_steps: discriminator steps per generator step (n_critic): D steps on every batch,
            G on every ``critic_steps``-th one. None: the model's recipe (``gan-lightning models``).
        optimizer: ``adam``, ``adamw``, ``rmsprop`` or ``sgd``, for every network. None: the recipe's.
        lr_g: learning rate of the generator side (every group not named ``discriminator*``). None: the recipe's.
        lr_d: learning rate of the ``discriminator*`` groups. None: the recipe's.
        betas: Adam's betas. None: the recipe's.
        momentum: SGD / RMSprop momentum. None: the recipe's.
        weight_decay: every optimizer's weight decay. None: the recipe's.
        optimizers: per-network settings over the above, e.g. ``{discriminator: {lr: 4e-4, betas: [0, 0.9]}}``
            (keys: optimizer, lr, betas, momentum, weight_decay, implementation).
        grad_clip_norm: clip each phase's gradient norm to this value (``None``: no clipping).
        lr_decay_iters: decay every learning rate linearly to 0 over the last this-many iterations
            of ``trainer.max_steps`` (0: constant).
        num_fixed_samples: size of the fixed noise batch used for sample grids.
        channels_last: keep 4-D weights and image batches in channels_last (NHWC) layout.
        compile: ``torch.compile`` the generator and the discriminator (``true``, or a mode:
            ``reduce-overhead`` replays them as CUDA graphs) or the networks named in a list, in place
            (``state_dict`` keys unchanged). compile_options: passed to ``torch.compile``.
        optimizer_implementation: ``auto``, ``foreach``, ``fused`` or ``single_tensor``, for every optimizer
            (``optimizers: {name: {implementation: ...}}`` sets one network's).
        label_smoothing: one-sided label smoothing (Salimans et al. 2016) for the models whose D is trained
            with binary cross-entropy (``smooths_real_labels``): D's target for real samples, a number
            (``0.9``) or ``[low, high]`` drawn per sample (``[0.8, 1.0]``); fakes keep 0. None: 1.
        historical_averaging: weight of historical averaging (Salimans et al. 2016) in every phase's loss:
            ``sum_i ||theta_i - mean_t theta_i[t]||^2`` over the parameters the phase's optimizer steps,
            the mean over that optimizer's past updates (kept in the checkpoint); lazy regularization
            phases are left as they are. 0: off.
        top_k: top-k training (Sinha et al. 2020) for the models that draw G's samples from noise and train G
            with the non-saturating loss (``top_k_applies``): G's adversarial loss keeps only its k samples that D
            scores highest, k = max(top_k_decay^epoch, top_k) * batch; ``top_k`` is the smallest fraction kept
            (the paper's nu, e.g. 0.5). None: every sample.
        top_k_decay: gamma, k's decay per epoch (the paper's 0.99).
        replay_pool: replay of past fakes (Shrivastava et al. 2017; CycleGAN's image pool): D's generated
            batch passes a pool of this many past samples, each swapped with probability 1/2 for a stored
            one once the pool is full (kept in the checkpoint). For the models on the default D-then-G
            phases without class labels; 0: off.
        minibatch_discrimination: minibatch discrimination (Salimans et al. 2016) in D, for the models whose D
            is built by the shared builders (``minibatch_discrimination_applies``): this many kernels (the
            authors' 100) appended before D's last linear layer, each of ``minibatch_kernel_dim`` (their 5). 0: off.
        minibatch_kernel_dim: the size of each minibatch-discrimination kernel.
        mode_seeking: weight of the mode-seeking term (Mao et al. 2019, MSGAN) in G's loss, for the models that
            draw G's samples from noise (``mode_seeking_applies``): a second noise draw z2 for the same
            conditions, and G minimises 1 / (mean|G(z) - G(z2)| / mean|z - z2| + 1e-5) (the authors' weight 1).
            0: off.

    The fast-path options and mixed precision (``--trainer.precision bf16-mixed`` / ``16-mixed``)
    are described in :mod:`gan_lightning.core.fast`.

    Settings left at ``None`` take the model's ``recipe`` (its paper's values, in the class
    docstring and ``gan-lightning models``), then ``BASE_RECIPE``.
    """

    paper: ClassVar[str] = ""
    data_kinds: ClassVar[tuple[str, ...]] = ("image",)
    recipe: ClassVar[dict[str, Any]] = {}
    #: Whether D's loss has a real-sample target that ``label_smoothing`` can smooth (``real_target``):
    #: the models trained with binary cross-entropy.
    smooths_real_labels: ClassVar[bool] = False
    #: Whether G's adversarial loss is a mean over samples drawn from noise that ``top_k`` can restrict
    #: (``top_k_samples``).
    top_k_applies: ClassVar[bool] = False
    #: Whether D is built by the shared builders (MLP or DCGAN discriminator) with ``minibatch_options()``,
    #: so that ``minibatch_discrimination`` adds its layer before D's last linear layer.
    minibatch_discrimination_applies: ClassVar[bool] = False
    #: Whether G draws ``ctx.fake`` from the noise ``ctx.z`` in ``prepare_step`` and ``generate(z, labels)`` draws
    #: more for the same conditions, so that ``mode_seeking`` can compare two draws in the generator phase.
    mode_seeking_applies: ClassVar[bool] = False
    #: The callbacks of a ``gan-lightning`` run as configured (``class_path`` and ``init_args`` each), set
    #: by the CLI and saved in the checkpoint, so that a resume can name the callbacks it changes.
    run_callbacks: list[dict[str, Any]] | None = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("training_step")
        if step is not None:  # a user's own loop still counts iterations
            cls.training_step = compat.counts_one_iteration(step)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        critic_steps: int | None = None,
        optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] | None = None,
        lr_g: float | None = None,
        lr_d: float | None = None,
        betas: tuple[float, float] | None = None,
        momentum: float | None = None,
        weight_decay: float | None = None,
        optimizers: dict[str, dict[str, Any]] | None = None,
        grad_clip_norm: float | None = None,
        lr_decay_iters: int = 0,
        num_fixed_samples: int = 64,
        channels_last: bool = False,
        compile: bool | Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]
        | list[str] = False,
        compile_options: dict[str, Any] | None = None,
        optimizer_implementation: Literal["auto", "foreach", "fused", "single_tensor"] = "auto",
        label_smoothing: float | Sequence[float] | None = None,
        historical_averaging: float = 0.0,
        top_k: float | None = None,
        top_k_decay: float = 0.99,
        replay_pool: int = 0,
        minibatch_discrimination: int = 0,
        minibatch_kernel_dim: int = 5,
        mode_seeking: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(frame=caller_frame())  # every subclass level's arguments (core/arguments.py)
        given = {"optimizer": optimizer, "lr_g": lr_g, "lr_d": lr_d, "betas": betas, "momentum": momentum,
                 "weight_decay": weight_decay, "critic_steps": critic_steps}
        unknown = sorted(set(self.recipe) - set(BASE_RECIPE))
        if unknown:
            raise TypeError(f"{type(self).__name__}.recipe has unknown key {unknown[0]!r}")
        settings = {key: value if value is not None else self.recipe.get(key, BASE_RECIPE[key])
                    for key, value in given.items()}
        if int(settings["critic_steps"]) < 1:
            raise ValueError(f"model.critic_steps must be >= 1, got {settings['critic_steps']}")
        if latent_dim < 1:
            raise ValueError(f"model.latent_dim must be >= 1, got {latent_dim}")
        if num_fixed_samples < 1:
            raise ValueError(f"model.num_fixed_samples must be >= 1, got {num_fixed_samples}")
        if lr_decay_iters < 0:
            raise ValueError(f"model.lr_decay_iters must be >= 0 (0: constant learning rates), got {lr_decay_iters}")
        if grad_clip_norm is not None and not grad_clip_norm > 0:
            raise ValueError(f"model.grad_clip_norm must be > 0 (or null: no clipping), got {grad_clip_norm}")
        if not data_shape or any(int(d) < 1 for d in data_shape):
            raise ValueError(f"model.data_shape must be positive sizes, got {tuple(data_shape)}")
        self.automatic_optimization = False
        self.data_shape = tuple(int(d) for d in data_shape)
        self.latent_dim = latent_dim
        self.critic_steps = int(settings["critic_steps"])
        self.optimizer_name = settings["optimizer"]
        self.lr_g, self.lr_d = float(settings["lr_g"]), float(settings["lr_d"])
        self.betas, self.momentum = tuple(settings["betas"]), float(settings["momentum"])
        self.weight_decay = float(settings["weight_decay"])
        self.optimizer_overrides = {str(k): dict(v) for k, v in (optimizers or {}).items()}
        self.optimizer_implementation = optimizer_implementation
        self.compile_networks = compile
        self.compile_options = fast.compile_settings(compile, compile_options)
        self.cudagraphs = fast.uses_cudagraphs(compile, compile_options)
        for group, lr_key in (("generator", "lr_g"), ("discriminator", "lr_d")):  # bad values fail when the model is built
            try:
                self.base_settings(group)
            except ValueError as error:
                message = re.sub(r"^(lr|betas|optimizer|implementation|momentum|weight_decay) must",
                                 lambda m: f"model.{lr_key if m[1] == 'lr' else m[1]} must", str(error))
                raise ValueError(message) from None
        self.grad_clip_norm = grad_clip_norm
        self.lr_decay_iters = lr_decay_iters
        self.label_smoothing = self.checked_label_smoothing(label_smoothing)
        if not (historical_averaging >= 0 and math.isfinite(historical_averaging)):
            raise ValueError(f"model.historical_averaging must be a finite number >= 0 (0: off), got {historical_averaging}")
        self.historical_averaging = float(historical_averaging)
        if top_k is not None:
            if not self.top_k_applies:
                raise ValueError(f"model.top_k: {type(self).__name__} does not train G with the non-saturating loss on "
                                 f"samples drawn from noise; top-k training applies to the models that do (GAN, "
                                 f"DCGAN, CGAN, ...)")
            if not 0 < top_k <= 1:
                raise ValueError(f"model.top_k must be the smallest fraction of G's samples kept, in (0, 1], got {top_k}")
        if not 0 < top_k_decay <= 1:
            raise ValueError(f"model.top_k_decay must be in (0, 1] (k's decay per epoch), got {top_k_decay}")
        self.top_k, self.top_k_decay = top_k, float(top_k_decay)
        if replay_pool < 0:
            raise ValueError(f"model.replay_pool must be >= 0 (past fakes kept for D; 0: off), got {replay_pool}")
        self.replay_pool = int(replay_pool)
        name = type(self).__name__
        if minibatch_discrimination < 0 or minibatch_kernel_dim < 1:
            raise ValueError(f"model.minibatch_discrimination must be >= 0 kernels (0: off; the paper's 100) and "
                             f"model.minibatch_kernel_dim >= 1, got {minibatch_discrimination} and {minibatch_kernel_dim}")
        if minibatch_discrimination and not self.minibatch_discrimination_applies:
            raise ValueError(f"model.minibatch_discrimination: {name}'s D is not built by the shared MLP / DCGAN "
                             f"builders; minibatch discrimination applies to the models whose D is (GAN, DCGAN, "
                             f"WGAN-GP, LSGAN, PacGAN, ...)")
        self.minibatch_discrimination, self.minibatch_kernel_dim = int(minibatch_discrimination), int(minibatch_kernel_dim)
        if not (mode_seeking >= 0 and math.isfinite(mode_seeking)):
            raise ValueError(f"model.mode_seeking must be a finite weight >= 0 (0: off; the paper's 1), got {mode_seeking}")
        if mode_seeking and not self.mode_seeking_applies:
            raise ValueError(f"model.mode_seeking: {name}'s G does not draw its samples from noise in the default "
                             f"step; the mode-seeking term applies to the models whose G does (GAN, DCGAN, CGAN, "
                             f"WGAN-GP, ...)")
        self.mode_seeking = float(mode_seeking)
        self.generator_ema: nn.Module | None = None
        self.training_state = TrainingState()
        if self.historical_averaging:
            self.training_state.declare("historical_averages", HistoricalAverages())
        if self.replay_pool:
            self.training_state.declare("fake_pool", ReplayPool(self.replay_pool, seed=0))
        self._discriminator_augment: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._phase_list: list[Phase] | None = None
        self._optimizer_index: dict[str, int] = {}
        self._toggle: compat.OptimizerToggle | None = None
        self._latest_terms: dict[str, torch.Tensor] = {}
        self.channels_last = bool(channels_last)
        self._deferred_clipping = fast.DeferredClipping()
        self._direct_steps: bool | None = None  # compat.direct_steps_allowed, decided once per fit
        # Fixed noise for sample grids: a buffer, so it is saved and moves with the module;
        # drawn from its own generator so building a model does not consume the global RNG.
        fixed = torch.randn(num_fixed_samples, latent_dim, generator=torch.Generator().manual_seed(1234))
        self.register_buffer("fixed_noise", fixed)

    def checked_label_smoothing(self, value: float | Sequence[float] | None) -> float | tuple[float, float] | None:
        """``label_smoothing`` as a number or a (low, high) pair in (0, 1]; one line for anything else."""
        if value is None:
            return None
        name = type(self).__name__
        if not self.smooths_real_labels:
            raise ValueError(f"model.label_smoothing: {name}'s D is not trained with binary cross-entropy on real "
                             f"samples; label smoothing applies to the models that are (GAN, DCGAN, CGAN, ...)")
        accepted = "a number in (0, 1] (e.g. 0.9) or [low, high] with 0 < low <= high <= 1 (e.g. [0.8, 1.0])"
        if isinstance(value, (int, float)):
            if not 0 < value <= 1:
                raise ValueError(f"model.label_smoothing must be {accepted}, got {value}")
            return float(value)
        pair = tuple(float(v) for v in value)
        if len(pair) != 2 or not 0 < pair[0] <= pair[1] <= 1:
            raise ValueError(f"model.label_smoothing must be {accepted}, got {list(value)}")
        return pair

    def real_target(self, real_logits: torch.Tensor) -> float | torch.Tensor:
        """D's target for real samples: 1, the ``label_smoothing`` number, or one draw per logit from
        U[low, high] (the global RNG, on the logits' device)."""
        smoothing = self.label_smoothing
        if smoothing is None:
            return 1.0
        if isinstance(smoothing, float):
            return smoothing
        return torch.empty_like(real_logits).uniform_(*smoothing)

    def minibatch_options(self) -> dict[str, int]:
        """The keyword arguments of the shared D builders for ``minibatch_discrimination`` (0 kernels: none)."""
        return {"minibatch_features": self.minibatch_discrimination, "minibatch_kernel_dim": self.minibatch_kernel_dim}

    def mode_seeking_term(self, ctx: StepContext) -> torch.Tensor:
        """MSGAN's term 1 / (mean|G(z) - G(z2)| / mean|z - z2| + 1e-5) (HelenMao/MSGAN, DCGAN-Mode-Seeking/model.py):
        z2 a second draw from the global RNG (seeded and restored on resume like the first), G(z2) for the
        same class labels; G minimises it, so two draws' samples move apart in proportion to their noise."""
        z2 = self.sample_noise(ctx.batch_size)
        fake2 = self.generate(z2, ctx.labels)
        ratio = (ctx.fake - fake2).abs().mean() / (ctx.z - z2).abs().mean()
        return 1.0 / (ratio + 1e-5)

    def top_k_samples(self, fake_logits: torch.Tensor) -> torch.Tensor:
        """D's outputs on G's samples, restricted in training to the k that D scores highest (``top_k``);
        a sample's score is the mean of its outputs (one logit, or a patch map). k is a number on the host."""
        if self.top_k is None or not self.training:
            return fake_logits
        num = fake_logits.size(0)
        fraction = max(self.top_k_decay ** self.current_epoch, self.top_k)
        k = min(num, max(1, math.ceil(fraction * num)))
        if k == num:
            return fake_logits
        scores = fake_logits.flatten(1).mean(1) if fake_logits.dim() > 1 else fake_logits
        return fake_logits[scores.topk(k).indices]

    # ------------------------------------------------------------------ declarations
    def conditions(self) -> tuple[Condition, ...]:
        """What G is conditioned on besides noise (:class:`~gan_lightning.core.protocol.Condition`); none by default."""
        return ()

    def output(self) -> Output:
        """What G outputs (:class:`~gan_lightning.core.protocol.Output`): by default an image or a vector
        of ``data_shape``."""
        return output_for_shape(self.data_shape)

    def stages(self) -> tuple[str, ...]:
        """The images G draws on its way to its output, coarse to fine, the output last, by name (StackGAN's
        Stage I and Stage II, StackGAN++'s branches); ``()`` for a G that draws its output alone. A model that
        declares stages returns them from ``generate_stages``; ``sample(..., stages=True)`` gives them and the
        sample grid shows them side by side (:func:`~gan_lightning.core.protocol.stage_pictures`)."""
        return ()

    @property
    def translates(self) -> bool:
        """Whether G maps an input (an image, a label map: ``translate``) instead of drawing from noise (``sample``)."""
        return any(condition.is_input for condition in self.conditions())

    @property
    def class_condition(self) -> Condition | None:
        """The ``class`` condition (labels 0 .. size - 1), or None."""
        return class_condition(self.conditions())

    @property
    def conditional(self) -> bool:
        """Whether G takes class labels (a ``class`` condition)."""
        return self.class_condition is not None

    @property
    def sampling(self) -> str:
        """``translation``, ``conditional`` or ``noise``: a summary of ``conditions()`` (kept for old code)."""
        return "translation" if self.translates else "conditional" if self.conditional else "noise"

    # ------------------------------------------------------------------ networks
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, net: nn.Module | None = None,
                 conditions: Mapping[str, torch.Tensor] | None = None):
        """G(z); models with conditions override this: ``labels`` is the class condition, ``conditions``
        the others by key. ``net``: another generator (the EMA copy)."""
        return (net or self.generator)(z)

    def generate_stages(self, z: torch.Tensor, labels: torch.Tensor | None = None, net: nn.Module | None = None,
                        conditions: Mapping[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, ...]:
        """The images of ``stages()``, in that order, for the same inputs as ``generate``."""
        raise NotImplementedError(f"{type(self).__name__} declares no stages: its G draws its output alone")

    def set_discriminator_augment(self, augment: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        """Install a transform applied to every discriminator input in training (DiffAugment, ADA, noise)."""
        self._discriminator_augment = augment

    @property
    def discriminator_augment(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """The transform ``set_discriminator_augment`` installed (None: D sees its inputs as they are)."""
        return self._discriminator_augment

    def run_discriminator(self, x: torch.Tensor, *args, net: str = "discriminator", method: str | None = None,
                          params: Mapping[str, torch.Tensor] | None = None, with_input: bool = False, **kwargs):
        """The one entry point of every discriminator call: ``net(augment(x), *args)``.

        ``method``: call that method of the network instead of ``forward`` (e.g. ``"features"``);
        ``params``: run the network functionally with these tensors (an unrolled copy);
        ``with_input=True``: return ``(output, the input D saw)`` (BEGAN compares the two).
        """
        if self._discriminator_augment is not None and self.training:
            x = self._discriminator_augment(x)
        module = getattr(self, net)
        if params is not None:
            out = torch.func.functional_call(module, dict(params), (x, *args), kwargs)
        else:
            out = (getattr(module, method) if method else module)(x, *args, **kwargs)
        return (out, x) if with_input else out

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D's realness score of ``x`` (held-out logging, gradient penalties); models override it."""
        return self.run_discriminator(x)

    def sample_noise(
        self, num: int, rng: torch.Generator | None = None, truncation: float | None = None
    ) -> torch.Tensor:
        """z ~ N(0, I); with ``truncation`` t, entries with |z| > t are redrawn (the truncation trick)."""
        if truncation is not None and truncation <= 0:
            raise ValueError(f"truncation must be > 0, got {truncation}")

        def draw(*shape: int) -> torch.Tensor:
            # an explicit RNG lives on the CPU: draw there, then move
            if rng is None:
                return torch.randn(*shape, device=self.device)
            return torch.randn(*shape, generator=rng).to(self.device)

        z = draw(num, self.latent_dim)
        if truncation is not None:
            outside = z.abs() > truncation
            while outside.any():
                z[outside] = draw(int(outside.sum()))
                outside = z.abs() > truncation
        return z

    # ------------------------------------------------------------------ losses (simple families)
    def discriminator_loss(self, real, fake, labels=None) -> dict[str, torch.Tensor]:
        """Named loss terms of D; ``d_loss`` is minimised. ``fake`` is detached from G."""
        raise NotImplementedError(f"{type(self).__name__} defines neither discriminator_loss nor its own phases()")

    def generator_loss(self, real, fake, labels=None) -> dict[str, torch.Tensor]:
        """Named loss terms of G; ``g_loss`` is minimised. ``fake`` carries G's graph."""
        raise NotImplementedError(f"{type(self).__name__} defines neither generator_loss nor its own phases()")

    def after_discriminator_step(self) -> None:
        """Hook after each D update of the default phases (WGAN's weight clipping lives here)."""

    # ------------------------------------------------------------------ phases
    def phases(self) -> list[Phase]:
        """The iteration: D every batch, then G every ``critic_steps``-th batch (override for other schedules)."""
        return self.adversarial_phases(
            lambda ctx: self.discriminator_loss(ctx.real, self.replayed(ctx.fake.detach()), ctx.labels),
            lambda ctx: self.generator_loss(ctx.real, ctx.fake, ctx.labels),
            after_discriminator=lambda ctx: self.after_discriminator_step(),
        )

    def replayed(self, fake: torch.Tensor) -> torch.Tensor:
        """D's generated batch through the pool of past fakes (``replay_pool``); the batch itself without one."""
        return self.training_state.fake_pool.query(fake) if self.replay_pool else fake

    def adversarial_phases(self, discriminator_terms, generator_terms, after_discriminator=None) -> list[Phase]:
        """``D`` (optimizer ``discriminator``) every batch, ``G`` (``generator``) every ``critic_steps``-th."""
        return [Phase("D", "discriminator", discriminator_terms, after=after_discriminator),
                Phase("G", "generator", generator_terms, interval=self.critic_steps)]

    def prepare_step(self, ctx: StepContext) -> None:
        """Before the phases: draw the noise and G's samples (with G's graph only when a G phase runs)."""
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.generate(ctx.z, ctx.labels)

    @property
    def phase_list(self) -> list[Phase]:
        if self._phase_list is None:
            phases = self.phases()
            names = [phase.name for phase in phases]
            if len(set(names)) != len(names):
                raise ValueError(f"{type(self).__name__}: phase names must be unique, got {names}")
            self._phase_list = phases
        return self._phase_list

    @compat.counts_one_iteration
    def training_step(self, batch, batch_idx):
        iteration = self.global_step
        due = [phase for phase in self.phase_list if phase.due(iteration)]
        ctx = StepContext(batch, iteration, frozenset(phase.name for phase in due), self.output().key)
        self.prepare_step(ctx)
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
        terms: dict[str, torch.Tensor] = {}
        for phase in due:
            optimizer = optimizers[self._optimizer_index[phase.optimizer]]
            historical = self.historical_averaging and not phase.lazy
            params = [p for group in optimizer.param_groups for p in group["params"]] if historical else []
            with self._toggle(phase.optimizer):
                phase_terms = dict(phase.loss(ctx))
                loss = phase_terms[phase.key]
                if self.mode_seeking and phase.optimizer == "generator" and not phase.lazy:
                    term = self.mode_seeking_term(ctx)
                    phase_terms["g_mode_seeking"] = term.detach()
                    loss = loss + self.mode_seeking * term
                if historical:
                    penalty = self.training_state.historical_averages.penalty(phase.optimizer, params)
                    phase_terms[f"{phase.name.lower()}_historical"] = penalty.detach()
                    loss = loss + self.historical_averaging * penalty
                updates = phase.update_when is None or phase.update_when(ctx)
                if updates:
                    self.optimize(optimizer, loss * phase.gain if phase.lazy else loss)
            terms.update(phase_terms)
            if not updates:  # the phase skips its update: nothing of its network or optimizer changes
                continue
            if historical:
                self.training_state.historical_averages.update(phase.optimizer, params)
            if phase.after is not None:
                phase.after(ctx)
        self.step_schedulers()
        return self.log_terms(terms)

    def log_terms(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Log every loss term; returns them detached (``latest_terms`` keeps each one's last value).

        Values are handed to Lightning only on the iterations its loggers write
        (``log_every_n_steps``), each term with its latest value (a G term from the last G
        phase when G did not step this iteration): ``self.log`` costs about a small network's
        step, and a value logged in between would never be written. None goes to Lightning's
        progress bar: Lightning turns progress-bar values into numbers after *every* batch, a
        host-device synchronisation per iteration on a GPU; ``gan_lightning.callbacks.ProgressBar``
        shows d_loss and g_loss from ``latest_terms``, read on the logging iterations.
        """
        detached = {name: value.detach() for name, value in terms.items()}
        self._latest_terms.update(detached)
        if compat.logging_due(self):
            for name, value in self._latest_terms.items():
                self.log(name, value, on_step=True, on_epoch=False)
        return detached

    @property
    def attached_trainer(self) -> L.Trainer | None:
        """The trainer this module is attached to, or None (``self.trainer`` raises then)."""
        return compat.trainer_of(self)

    @property
    def in_training_step(self) -> bool:
        """True while ``training_step`` runs: the place where no value may be read on the host (a GPU
        would wait for it), so checks of the batch's values are left out there."""
        return getattr(self, "_in_training_step", False)

    @property
    def latest_terms(self) -> dict[str, torch.Tensor]:
        """The last value of every loss term of this fit (detached, on the device; reading one waits for it)."""
        return dict(self._latest_terms)

    # ------------------------------------------------------------------ optimisation
    def optimizer_groups(self) -> dict[str, Iterable[nn.Parameter]]:
        """Named parameter groups, one optimizer each, in this order in the checkpoint."""
        return {"generator": self.generator.parameters(), "discriminator": self.discriminator.parameters()}

    def base_settings(self, group: str) -> OptimizerSettings:
        """The group's settings before the per-network table: ``lr_d`` for ``discriminator*`` groups."""
        lr = self.lr_d if group.startswith("discriminator") else self.lr_g
        implementation = self.optimizer_implementation
        if implementation == "auto" and self.cudagraphs:  # one kernel per step beside the replayed graphs
            implementation = "fused" if self.optimizer_name in ("adam", "adamw", "sgd") else "foreach"
        return OptimizerSettings(self.optimizer_name, lr, self.betas, self.momentum, self.weight_decay,
                                 implementation)

    def optimizer_settings(self, group: str) -> OptimizerSettings:
        """The settings of group ``group``, the lazy-regularization scaling included."""
        settings = self.base_settings(group).updated(group, self.optimizer_overrides.get(group, {}))
        lazy = [phase for phase in self.phase_list if phase.lazy and phase.optimizer == group]
        if len(lazy) > 1:
            raise ValueError(f"optimizer {group!r} has two lazy phases ({lazy[0].name}, {lazy[1].name})")
        return settings.lazy(lazy[0].interval) if lazy else settings

    def configure_optimizers(self):
        groups = {name: list(params) for name, params in self.optimizer_groups().items()}
        unknown = sorted(set(self.optimizer_overrides) - set(groups))
        if unknown:
            raise SettingError(f"model.optimizers: unknown network {unknown[0]!r}; {type(self).__name__} has "
                               f"{', '.join(groups)}")
        for phase in self.phase_list:
            if phase.optimizer not in groups:
                raise ValueError(f"phase {phase.name!r} steps optimizer {phase.optimizer!r}, which is not one of "
                                 f"{', '.join(groups)}")
        self._optimizer_index = {name: i for i, name in enumerate(groups)}
        self._toggle = compat.OptimizerToggle(groups)
        optimizers = [build_optimizer(params, self.optimizer_settings(name)) for name, params in groups.items()]
        if not self.lr_decay_iters:
            return optimizers
        total = self.trainer.max_steps if self.attached_trainer is not None else -1
        if total is None or total < 0:
            raise SettingError("model.lr_decay_iters needs --trainer.max_steps to know where training ends")
        factor = linear_decay(total, self.lr_decay_iters)
        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in optimizers]
        return optimizers, schedulers

    def scheduled(self, optimizers, factor, option: str):
        """``(optimizers, schedulers)``: one ``LambdaLR`` of ``factor`` (iteration -> the rates' factor) per optimizer,
        for a model's own schedule, the model option ``option``; an error when ``lr_decay_iters`` set one already
        (``optimizers`` is then ``configure_optimizers``' tuple)."""
        if isinstance(optimizers, tuple):
            raise ValueError(f"{type(self).__name__}: model.{option} and model.lr_decay_iters are two LR schedules; set one")
        return optimizers, [torch.optim.lr_scheduler.LambdaLR(opt, factor) for opt in optimizers]

    def named_optimizer(self, name: str) -> torch.optim.Optimizer:
        """The torch optimizer of group ``name`` (while a trainer is attached)."""
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
        optimizer = optimizers[self._optimizer_index[name]]
        return getattr(optimizer, "optimizer", optimizer)

    def optimize(self, optimizer, loss: torch.Tensor) -> None:
        """zero_grad, backward, optional clipping, step (the current phase's parameters only).

        Through Lightning's ``manual_backward`` and optimizer wrapper, or directly when no hook
        listens (:func:`gan_lightning.core.compat.direct_steps_allowed`, decided once per fit).
        """
        if self._direct_steps is None:
            self._direct_steps = compat.direct_steps_allowed(self, GANModule)
        optimizer.zero_grad(set_to_none=True)
        if self._direct_steps:
            compat.direct_backward(self, loss)
        else:
            self.manual_backward(loss)
        if self.grad_clip_norm is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip_norm, gradient_clip_algorithm="norm")
        if self._direct_steps:
            getattr(optimizer, "optimizer", optimizer).step()
        else:
            optimizer.step()

    def clip_gradients(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Lightning's clipping; under a gradient scaler (``16-mixed``) it waits for the unscaled gradients.

        In manual optimization this runs before ``optimizer.step()``, where the mixed-precision
        plugin unscales; clipping here would bound the scaled gradients. With a scaler the request
        is kept and carried out in ``on_before_optimizer_step`` (see :mod:`gan_lightning.core.fast`).
        """
        if fast.grad_scaler(self) is None or compat.under_fabric(self):
            return super().clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        self._deferred_clipping.request(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def on_before_optimizer_step(self, optimizer) -> None:
        """Carry out a clipping request deferred by ``clip_gradients`` (the gradients are unscaled now)."""
        request = self._deferred_clipping.pop(optimizer)
        if request is not None:
            super().clip_gradients(optimizer, *request)

    def step_schedulers(self) -> None:
        """Every learning rate follows the iteration count, also an optimizer whose phase waited this iteration
        (G under n_critic, a skipped update): torch's warning that such a scheduler skips its first value is
        about epoch schedules, a false alarm here, so it is silenced for these calls only."""
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
                scheduler.step()

    # ------------------------------------------------------------------ validation / test
    def heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """What ``validate`` / ``test`` log for one held-out batch, under ``{stage}/...`` (``stage``: val or
        test); models override it. By default the mean D score on held-out real data and on G's samples
        (noise seeded by batch index)."""
        ctx = StepContext(batch, real_key=self.output().key)
        z = self.sample_noise(ctx.batch_size, rng=torch.Generator().manual_seed(batch_idx))
        fake = self.generate(z, ctx.labels)
        scores = {f"{stage}/d_real": self.discriminate(ctx.real, ctx.labels).mean(),
                  f"{stage}/d_fake": self.discriminate(fake, ctx.labels).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=ctx.batch_size)

    def validation_step(self, batch, batch_idx):
        self.heldout_step(batch, batch_idx, "val")

    def test_step(self, batch, batch_idx):
        self.heldout_step(batch, batch_idx, "test")

    # ------------------------------------------------------------------ EMA and sampling
    def enable_ema(self) -> None:
        """Create the EMA copy of G (the ``EMACallback`` turns this on)."""
        if self.generator_ema is None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        """ema <- decay * ema + (1 - decay) * G; buffers (BatchNorm statistics) are copied.

        One multi-tensor kernel per dtype and device (``torch._foreach_lerp_``): on a GPU a
        launch per tensor would cost more than the arithmetic."""
        ema_params = list(self.generator_ema.parameters())
        if ema_params:
            torch._foreach_lerp_(ema_params, [p.detach() for p in self.generator.parameters()], 1.0 - decay)
        ema_buffers = list(self.generator_ema.buffers())
        if ema_buffers:
            torch._foreach_copy_(ema_buffers, list(self.generator.buffers()))

    @property
    def sampling_generator(self) -> nn.Module:
        """The EMA generator when there is one, else G."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    @torch.no_grad()
    def sample(
        self,
        num_samples: int | None = None,
        noise: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_ema: bool = True,
        truncation: float | None = None,
        rng: torch.Generator | None = None,
        conditions: Mapping[str, torch.Tensor] | None = None,
        stages: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Samples from G (the EMA copy by default), in eval mode; the module's modes are restored.

        ``labels``: the class condition (cycling through the classes when not given); ``conditions``:
        the model's other conditions by key (a caption's token ids, attribute vectors ...), one per sample;
        ``stages=True``: the images of every declared stage (``stages()``), a tuple, the output last."""
        if self.translates:
            raise TypeError(f"{type(self).__name__} translates images: call translate(images), not sample()")
        if noise is None:
            if num_samples is None:
                raise ValueError("sample() needs num_samples or noise")
            noise = self.sample_noise(num_samples, rng=rng, truncation=truncation)
        extra = self.check_conditions(noise.size(0), labels, conditions)
        net = self.sampling_generator if use_ema else self.generator
        draw = self.generate_stages if stages else self.generate
        with eval_mode(net):
            if extra:
                return draw(noise.to(self.device), labels, net=net, conditions=extra)
            return draw(noise.to(self.device), labels, net=net)

    def check_conditions(self, num: int, labels: torch.Tensor | None,
                         conditions: Mapping[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
        """The non-class conditions of ``num`` samples, on the device; one-line errors for what does not fit."""
        name = type(self).__name__
        if labels is not None and self.class_condition is None:
            raise ValueError(f"labels: {name} takes no class labels")
        wanted = {c.key: c for c in self.conditions() if c.kind != "class"}
        given = dict(conditions or {})
        unknown = sorted(set(given) - set(wanted))
        if unknown:
            accepted = ", ".join(wanted) or "none"
            raise ValueError(f"conditions: {name} takes no condition {unknown[0]!r}; it takes: {accepted}")
        missing = [c for key, c in wanted.items() if key not in given]
        if missing:
            c = missing[0]
            raise ValueError(f"{name} samples given its {c.kind} condition: sample(..., conditions={{{c.key!r}: ...}})")
        for key, value in given.items():
            if not isinstance(value, torch.Tensor) or value.size(0) != num:
                got = value.size(0) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"conditions[{key!r}]: one per sample, {num}; got {got}")
        return {key: value.to(self.device) for key, value in given.items()}

    def translate(self, images: torch.Tensor, **options) -> torch.Tensor:
        """Models whose condition is an input map ``images`` to the other domain; others have no such map."""
        raise TypeError(f"{type(self).__name__} is not an image-to-image model; it draws with sample()")

    @torch.no_grad()
    def preview_grid(self, num_samples: int = 64, nrow: int = 8, use_ema: bool = True,
                     inputs: torch.Tensor | Mapping[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, int]:
        """(images, images per row) for a sample grid, drawn from fixed inputs so grids compare over time.

        By the model's declarations: a model that maps inputs shows each held-out input (``inputs``)
        beside its output; a class-conditional one one row per class over the first ``nrow`` fixed
        noise vectors; one with other conditions one row per held-out condition (``inputs``: a dict
        by key) over the same ``nrow`` noise vectors; an unconditional one G on the fixed noise.
        Outputs that are not images are drawn as :func:`~gan_lightning.core.protocol.grid_pictures` says
        (a video's frames as a row, tokens as a strip of coloured cells); a model that declares
        ``stages()`` shows each sample's stages side by side (:func:`~gan_lightning.core.protocol.stage_pictures`).
        """
        staged = {"stages": True} if self.stages() else {}  # sample's stages argument, for a model that has stages
        if self.translates:
            if not isinstance(inputs, torch.Tensor):
                raise ValueError(f"{type(self).__name__}.preview_grid needs held-out inputs")
            outputs = self.translate(inputs.to(self.device))
            pairs = torch.stack([inputs.to(outputs), outputs], dim=1).flatten(0, 1)
            return pairs, 2 * max(1, nrow // 2)
        repeat = (1,) * (self.fixed_noise.dim() - 1)
        others = [c for c in self.conditions() if c.kind != "class"]
        if self.class_condition is not None and self.class_condition.size > 0 and not others:
            classes = self.class_condition.size
            columns = min(nrow, self.fixed_noise.size(0))
            noise = self.fixed_noise[:columns].repeat(classes, *repeat)
            labels = torch.arange(classes, device=noise.device).repeat_interleave(columns)
            samples = self.sample(noise=noise, labels=labels, use_ema=use_ema, **staged)
        elif others:
            if not isinstance(inputs, Mapping) or any(c.key not in inputs for c in others):
                raise ValueError(f"{type(self).__name__}.preview_grid needs held-out conditions: "
                                 f"{', '.join(c.key for c in others)}")
            columns = min(nrow, self.fixed_noise.size(0))
            rows = max(1, min(num_samples // columns, *(inputs[c.key].size(0) for c in others)))
            noise = self.fixed_noise[:columns].repeat(rows, *repeat)
            held = {c.key: inputs[c.key][:rows].repeat_interleave(columns, dim=0) for c in others}
            labels = None
            if self.class_condition is not None:
                labels = torch.arange(rows * columns, device=noise.device) % self.class_condition.size
            samples = self.sample(noise=noise, labels=labels, use_ema=use_ema, conditions=held, **staged)
        else:
            columns = nrow
            samples = self.sample(noise=self.fixed_noise[:num_samples], use_ema=use_ema, **staged)
        if staged:
            return stage_pictures(samples, columns)
        return grid_pictures(samples, self.output(), columns)

    # ------------------------------------------------------------------ setup and checkpoints
    def setup(self, stage: str) -> None:
        compat.drop_nvml_check_without_gpu()  # `import lightning` set it; it costs every Adam step without a GPU
        compat.allow_partial_backward(self.attached_trainer)
        if stage == "fit" and self.attached_trainer is not None:
            compat.remember_rng_at_stop(self.attached_trainer)  # for the checkpoint of the end of training
        self._decorrelate_ranks()

    def configure_model(self) -> None:
        """The fast-path options on the networks, before the optimizers are built (:mod:`gan_lightning.core.fast`)."""
        compiled = fast.networks_to_compile(self, self.compile_networks)
        if self.channels_last:  # inductor lays compiled convolutions out itself (core.fast: pytorch#171622)
            for name, child in self.named_children():
                if name not in compiled:
                    child.to(memory_format=torch.channels_last)
            if compiled:
                rank_zero_info(f"channels_last: left to inductor for the compiled {', '.join(compiled)} "
                               "(hand-made NHWC breaks compiled convolution backward on CUDA: pytorch#171622)")
        fast.compile_networks(self, compiled, self.compile_options)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """With ``channels_last`` (and nothing compiled), the batch's images in channels_last layout
        (on the device, in place); with CUDA graphs, the start of an iteration marked for them."""
        if self.channels_last and not fast.networks_to_compile(self, self.compile_networks):
            fast.channels_last_batch_(batch)
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()

    def on_fit_start(self) -> None:
        if self.replay_pool and (type(self).phases is not GANModule.phases or self.class_condition is not None):
            raise SettingError(f"model.replay_pool: {type(self).__name__} has its own phases or class labels; the "
                               f"replay of past fakes applies to the models on the default D-then-G phases without "
                               f"labels (DCGAN, WGAN-GP, LSGAN, ...)")
        self.training_state.to(self.device)
        self._direct_steps = None  # decided at the first update of this fit (the callbacks may differ)

    def _decorrelate_ranks(self) -> None:
        """Give each DDP rank its own noise stream (seed_everything seeds every rank alike)."""
        if self.attached_trainer is not None and self.trainer.world_size > 1:
            base = int(torch.randint(0, 2**62, (1,)).item())
            torch.manual_seed(base + self.global_rank)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Under DDP every rank runs this hook and rank 0 writes the file: the RNG states of all
        # ranks are gathered into it (a collective, so every rank must save, as Lightning's do).
        rng = compat.rng_state_for_checkpoint(self.attached_trainer)
        extra = {
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",
            "rng": rng,
            "training_state": self.training_state.state_dict(),
            "max_steps": self.trainer.max_steps if self.attached_trainer is not None else None,  # lr_decay_iters' plan
        }
        if self.run_callbacks is not None:  # the callbacks of a CLI run, for a resume to compare (gan_lightning/resume.py)
            extra["callbacks"] = self.run_callbacks
        if self.attached_trainer is not None and self.trainer.world_size > 1:
            per_rank = compat.gather_rng_states(rng)
            if per_rank is not None:
                extra["rng"], extra["rng_per_rank"] = per_rank[0], per_rank
        checkpoint["gan_lightning"] = extra
        if self.attached_trainer is not None:
            compat.end_of_training_loop_state(self.trainer, checkpoint)  # extending a finished run is exact

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if any(key.startswith("generator_ema.") for key in checkpoint.get("state_dict", {})):
            self.enable_ema()
        extra = checkpoint.get("gan_lightning", {})
        if "training_state" in extra:
            self.training_state.load_state_dict(extra["training_state"], device=self.device)
        if self.lr_decay_iters and self.attached_trainer is not None and self.trainer.training:
            from gan_lightning.core.optim import replan_linear_decay

            # a run extended to a new max_steps continues on the new plan from its first iteration
            replan_linear_decay(checkpoint, self.trainer.max_steps, self.lr_decay_iters)
        if self.attached_trainer is not None and self.trainer.training:
            from gan_lightning.core.optim import apply_optimizer_settings

            # optimisation settings changed on resume (--model.lr_g, betas, ...) are applied, not overwritten
            # by the restored optimizers (the CLI names them: gan_lightning/resume.py)
            settings = {name: self.optimizer_settings(name) for name in self.optimizer_groups()}
            apply_optimizer_settings(checkpoint, settings, self.trainer.max_steps, self.lr_decay_iters)
        if "rng" in extra and self.attached_trainer is not None and self.trainer.training:
            # a resumed run draws the noise the uninterrupted one drew: on the same number of
            # processes each rank continues its own stream; otherwise every rank starts from
            # rank 0's and decorrelates it
            per_rank = extra.get("rng_per_rank")
            if per_rank is not None and len(per_rank) == self.trainer.world_size:
                compat.restore_rng_state(per_rank[self.global_rank])
            else:
                compat.restore_rng_state(extra["rng"])
                self._decorrelate_ranks()


def merged_optimizers(extra: Mapping[str, Mapping[str, Any]], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """Per-network settings from a model's own arguments (``extra``, e.g. AAE's ``lr_e``) under the YAML's table."""
    merged = {name: dict(settings) for name, settings in extra.items()}
    for name, settings in (given or {}).items():
        merged.setdefault(name, {}).update(settings)
    return merged
