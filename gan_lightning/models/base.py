"""``GANModule``: the manual-optimization skeleton every GAN family stands on.

It owns, once for every model: noise sampling (with truncation), the D/G
alternation with ``critic_steps`` (n_critic), ``toggled_optimizer`` +
``manual_backward``, optional gradient clipping, LR schedules stepped by hand,
logging of ``d_loss``, ``g_loss`` and every loss term, the generator EMA,
sampling, RNG state in checkpoints, and the iteration counter.

Iterations: Lightning counts every ``optimizer.step()`` in ``global_step``
under manual optimization, so with D and G stepping ``max_steps`` would mean
half as many batches. Every ``training_step`` of a ``GANModule`` (the base one
and any override in a subclass) is wrapped so that one call advances
``global_step`` by exactly one: ``--trainer.max_steps``, ``every_n_train_steps``
and the logged step all count training iterations (batches).

A subclass builds ``self.generator`` and ``self.discriminator`` and implements
``discriminator_loss`` / ``generator_loss``, each returning a dict of named
loss terms whose key ``d_loss`` / ``g_loss`` is the one optimized. A model
whose schedule differs overrides ``training_step`` and keeps the counting.
"""

from __future__ import annotations

import copy
import functools
import random
from typing import Any, ClassVar, Literal, Sequence

import lightning as L
import numpy as np
import torch
from torch import nn


def _counts_one_iteration(step_fn):
    """Wrap a ``training_step`` so that it advances ``global_step`` by exactly one."""

    @functools.wraps(step_fn)
    def training_step(self: "GANModule", *args, **kwargs):
        progress = self._optimizer_step_progress()
        before = progress.total.completed if progress is not None else 0
        output = step_fn(self, *args, **kwargs)
        if progress is not None:
            correction = before + 1 - progress.total.completed
            if correction:
                for tracker in (progress.total, progress.current):
                    tracker.ready += correction
                    tracker.completed += correction
        return output

    training_step.__counts_one_iteration__ = True
    return training_step


def capture_rng_state() -> dict[str, Any]:
    """Global RNG states in types that ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    numpy_state = {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                   "has_gauss": int(has_gauss), "cached": float(cached)}
    state = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


class GANModule(L.LightningModule):
    """Base class of every GAN family (manual optimization, generator ``G`` and discriminator ``D``).

    Args:
        data_shape: shape of one sample, e.g. ``(1, 28, 28)`` or ``(2,)``; the CLI links it from the data module.
        latent_dim: size of the noise vector z ~ N(0, I).
        critic_steps: discriminator steps per generator step (n_critic); one D step per batch,
            G steps on every ``critic_steps``-th batch.
        optimizer: ``adam``, ``rmsprop`` or ``sgd``, for both networks.
        lr_g, lr_d: learning rates of G and D.
        betas: Adam's betas.
        momentum: SGD / RMSprop momentum.
        grad_clip_norm: clip each network's gradient norm to this value (``None``: no clipping).
        lr_decay_iters: decay both learning rates linearly to 0 over the last this-many iterations
            of ``trainer.max_steps`` (0: constant).
        num_fixed_samples: size of the fixed noise batch used for sample grids.
    """

    paper: ClassVar[str] = ""
    data_kinds: ClassVar[tuple[str, ...]] = ("image",)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("training_step")
        if step is not None and not getattr(step, "__counts_one_iteration__", False):
            cls.training_step = _counts_one_iteration(step)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        critic_steps: int = 1,
        optimizer: Literal["adam", "rmsprop", "sgd"] = "adam",
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        momentum: float = 0.0,
        grad_clip_norm: float | None = None,
        lr_decay_iters: int = 0,
        num_fixed_samples: int = 64,
    ) -> None:
        super().__init__()
        if critic_steps < 1:
            raise ValueError(f"model.critic_steps must be >= 1, got {critic_steps}")
        if optimizer not in ("adam", "rmsprop", "sgd"):
            raise ValueError(f"model.optimizer must be one of adam, rmsprop, sgd; got {optimizer!r}")
        self.automatic_optimization = False
        self.data_shape = tuple(int(d) for d in data_shape)
        self.latent_dim = latent_dim
        self.critic_steps = critic_steps
        self.optimizer_name = optimizer
        self.lr_g, self.lr_d, self.betas, self.momentum = lr_g, lr_d, tuple(betas), momentum
        self.grad_clip_norm = grad_clip_norm
        self.lr_decay_iters = lr_decay_iters
        self.generator_ema: nn.Module | None = None
        # Fixed noise for sample grids: a buffer, so it is saved and moves with the module;
        # drawn from its own generator so building a model does not consume the global RNG.
        fixed = torch.randn(num_fixed_samples, latent_dim, generator=torch.Generator().manual_seed(1234))
        self.register_buffer("fixed_noise", fixed)

    # ------------------------------------------------------------------ networks
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, generator: nn.Module | None = None):
        """G(z); conditional models override this to use ``labels``."""
        return (generator or self.generator)(z)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """D(x); conditional models override this to use ``labels``."""
        return self.discriminator(x)

    def sample_noise(
        self, num: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> torch.Tensor:
        """z ~ N(0, I); with ``truncation`` t, entries with |z| > t are redrawn (the truncation trick)."""
        if truncation is not None and truncation <= 0:
            raise ValueError(f"truncation must be > 0, got {truncation}")

        def draw(*shape: int) -> torch.Tensor:
            # an explicit generator lives on the CPU: draw there, then move
            if generator is None:
                return torch.randn(*shape, device=self.device)
            return torch.randn(*shape, generator=generator).to(self.device)

        z = draw(num, self.latent_dim)
        if truncation is not None:
            outside = z.abs() > truncation
            while outside.any():
                z[outside] = draw(int(outside.sum()))
                outside = z.abs() > truncation
        return z

    @staticmethod
    def unpack_batch(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(batch, (list, tuple)):
            return batch[0], (batch[1] if len(batch) > 1 else None)
        return batch, None

    # ------------------------------------------------------------------ losses (subclasses)
    def discriminator_loss(self, real, fake, labels=None) -> dict[str, torch.Tensor]:
        """Named loss terms of D; ``d_loss`` is minimised. ``fake`` is detached from G."""
        raise NotImplementedError

    def generator_loss(self, real, fake, labels=None) -> dict[str, torch.Tensor]:
        """Named loss terms of G; ``g_loss`` is minimised. ``fake`` carries G's graph."""
        raise NotImplementedError

    def after_discriminator_step(self) -> None:
        """Hook after each D update (WGAN's weight clipping lives here)."""

    # ------------------------------------------------------------------ optimisation
    def generator_parameters(self):
        return self.generator.parameters()

    def discriminator_parameters(self):
        return self.discriminator.parameters()

    def make_optimizer(self, params, lr: float) -> torch.optim.Optimizer:
        if self.optimizer_name == "adam":
            return torch.optim.Adam(params, lr=lr, betas=self.betas)
        if self.optimizer_name == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr, momentum=self.momentum)
        return torch.optim.SGD(params, lr=lr, momentum=self.momentum)

    def configure_optimizers(self):
        optimizers = [
            self.make_optimizer(self.generator_parameters(), self.lr_g),
            self.make_optimizer(self.discriminator_parameters(), self.lr_d),
        ]
        if not self.lr_decay_iters:
            return optimizers
        total = self.trainer.max_steps if self._trainer is not None else -1
        if total is None or total < 0:
            raise ValueError("model.lr_decay_iters needs --trainer.max_steps to know where training ends")
        start = max(total - self.lr_decay_iters, 0)

        def linear_decay(iteration: int) -> float:
            return 1.0 if iteration < start else max(0.0, (total - iteration) / max(total - start, 1))

        schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, linear_decay) for opt in optimizers]
        return optimizers, schedulers

    def optimize(self, optimizer, loss: torch.Tensor) -> None:
        """zero_grad, backward, optional clipping, step. Call inside ``self.toggled_optimizer(optimizer)``."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.grad_clip_norm is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip_norm, gradient_clip_algorithm="norm")
        optimizer.step()

    def step_schedulers(self) -> None:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()

    def generator_due(self) -> bool:
        """True on the iterations where G steps: every ``critic_steps``-th batch."""
        return (self.global_step + 1) % self.critic_steps == 0

    @_counts_one_iteration
    def training_step(self, batch, batch_idx):
        real, labels = self.unpack_batch(batch)
        opt_g, opt_d = self.optimizers()
        update_g = self.generator_due()
        z = self.sample_noise(real.size(0))
        with torch.set_grad_enabled(update_g):  # G's graph only when G will step on it
            fake = self.generate(z, labels)

        with self.toggled_optimizer(opt_d):
            terms = self.discriminator_loss(real, fake.detach(), labels)
            self.optimize(opt_d, terms["d_loss"])
        self.after_discriminator_step()

        if update_g:
            with self.toggled_optimizer(opt_g):
                g_terms = self.generator_loss(real, fake, labels)
                self.optimize(opt_g, g_terms["g_loss"])
            terms.update(g_terms)
        self.step_schedulers()
        return self.log_terms(terms)

    def log_terms(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Log every loss term (d_loss and g_loss on the progress bar); returns them detached."""
        detached = {name: value.detach() for name, value in terms.items()}
        for name, value in detached.items():
            self.log(name, value, prog_bar=name in ("d_loss", "g_loss"), on_step=True, on_epoch=False)
        return detached

    # ------------------------------------------------------------------ validation / test
    def _heldout_step(self, batch, batch_idx: int, stage: str) -> None:
        """Mean D output on held-out real data and on G's samples (noise seeded by batch index)."""
        real, labels = self.unpack_batch(batch)
        z = self.sample_noise(real.size(0), generator=torch.Generator().manual_seed(batch_idx))
        fake = self.generate(z, labels)
        scores = {f"{stage}/d_real": self.discriminate(real, labels).mean(),
                  f"{stage}/d_fake": self.discriminate(fake, labels).mean()}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))

    def validation_step(self, batch, batch_idx):
        self._heldout_step(batch, batch_idx, "val")

    def test_step(self, batch, batch_idx):
        self._heldout_step(batch, batch_idx, "test")

    # ------------------------------------------------------------------ EMA and sampling
    def enable_ema(self) -> None:
        """Create the EMA copy of G (the ``EMACallback`` turns this on)."""
        if self.generator_ema is None:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        """ema <- decay * ema + (1 - decay) * G; buffers (BatchNorm statistics) are copied."""
        for ema_param, param in zip(self.generator_ema.parameters(), self.generator.parameters()):
            ema_param.lerp_(param.detach(), 1.0 - decay)
        for ema_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)

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
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Samples from G (the EMA copy by default), in eval mode; the module's modes are restored."""
        if noise is None:
            if num_samples is None:
                raise ValueError("sample() needs num_samples or noise")
            noise = self.sample_noise(num_samples, generator=generator, truncation=truncation)
        net = self.sampling_generator if use_ema else self.generator
        was_training = net.training
        net.eval()
        try:
            return self.generate(noise.to(self.device), labels, generator=net)
        finally:
            net.train(was_training)

    # ------------------------------------------------------------------ checkpoints
    def _optimizer_step_progress(self):
        if self._trainer is None or not self._trainer.training:
            return None
        return self._trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress

    def setup(self, stage: str) -> None:
        self._allow_partial_backward()
        self._decorrelate_ranks()

    def _allow_partial_backward(self) -> None:
        """DDP must accept backward passes that reach only one network.

        Each of our backward passes touches only D or only G (the other is toggled
        off), which plain DDP rejects ("parameters were not used in producing the
        loss", Lightning #20328). We turn on ``find_unused_parameters`` for the
        DDP wrapper; the strategy wraps the module after this hook runs.
        """
        from lightning.pytorch.strategies import DDPStrategy

        strategy = self._trainer.strategy if self._trainer is not None else None
        if isinstance(strategy, DDPStrategy):
            strategy._ddp_kwargs["find_unused_parameters"] = True

    def _decorrelate_ranks(self) -> None:
        """Give each DDP rank its own noise stream (seed_everything seeds every rank alike)."""
        if self._trainer is not None and self.trainer.world_size > 1:
            base = int(torch.randint(0, 2**62, (1,)).item())
            torch.manual_seed(base + self.global_rank)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["gan_lightning"] = {
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",
            "rng": capture_rng_state(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if any(key.startswith("generator_ema.") for key in checkpoint.get("state_dict", {})):
            self.enable_ema()
        extra = checkpoint.get("gan_lightning", {})
        if "rng" in extra and self._trainer is not None and self.trainer.training:
            restore_rng_state(extra["rng"])  # a resumed run draws the noise the uninterrupted one drew
            self._decorrelate_ranks()
