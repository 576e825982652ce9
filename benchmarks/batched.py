"""Many seeds of one small toy recipe, trained in one process as one batched model: a benchmark tool.

It lives in benchmarks/, not in the package: it re-encodes the losses of eight models per seed
(``_RECIPES`` below) and runs its own loop, so it is no execution path of gan-lightning, whose
only training loop is ``GANModule.training_step`` (gan_lightning/models/base.py). It serves
``benchmarks/mode_collapse.py --batched-seeds`` and ``benchmarks/batched_seeds.py``, and
tests/test_batched_seeds.py holds it to the separate Lightning runs bit for bit.

The toy benchmarks train one recipe (G: MLP 4x400, D: MLP 3x200, z in R^2, batch 100) for
several seeds, one run after the other. ``fit_seeds`` trains the S seeds of one recipe as one
model instead: every weight, BatchNorm statistic and EMA weight gets a leading seed dimension,
activations are (S, batch, features), the linear layers are ``torch.baddbmm`` over the seed
dimension, and one optimizer step updates all seeds (the model's own optimizer on each seed's
slice: Adam, RMSprop and SGD are element-wise). There is no Lightning loop and one Python
dispatch per layer serves S seeds. CPU only (each seed's noise stream is a CPU generator).

Each seed follows the separate run ``benchmarks/mode_collapse.py`` makes for it
(``L.seed_everything(seed)``, the model, ``Toy2D(seed=seed)``, ``Trainer.fit``):

- initial weights: the model is built right after ``torch.manual_seed(seed)``, which is what
  ``seed_everything`` does to torch (the global RNG is saved and restored around it);
- noise: each seed draws from its own ``torch.Generator``, which starts in the state the global
  RNG of the separate run is in after building the model, and draws what that run draws from
  the global RNG, in the same order (z each iteration; WGAN-GP's interpolation factors);
- training state: Fisher GAN's Lagrange multiplier lambda is one value per seed, stepped after
  each critic step from that seed's constraint and written back into its model
  (``training_state.lagrange``);
- data: the seed's own training set, in the order of ``EpochSeededSampler(seed)`` (epoch e:
  the permutation seeded ``seed + e``; incomplete batches dropped), as its data loader gives it;
- optimizer state: its own slice of the stacked moments (``SeedwiseOptimizer``);
- BatchNorm: ``F.batch_norm`` over (batch, seed x feature) columns, so each seed's batch is
  normalised with its own statistics and updates its own running mean and variance;
- EMA of G (optional): ``EMACallback``'s rule, decay ``min(decay, (1 + t) / (10 + t))`` after
  iteration t (1-based), BatchNorm buffers copied.

Not only the same algorithm: the same arithmetic. On the CPU this was written on, every
weight, buffer and EMA weight after 200 iterations equals the separate Lightning run's bit for
bit (tests/test_batched_seeds.py). That takes care, because Adam turns a 1-ulp difference in
a gradient that is zero but for rounding (a linear bias before BatchNorm) into a step of lr, so
any rounding difference grows to O(lr * iterations) in those biases and the running means:
losses are the models' own functions called per seed (not ``vmap``-ed, whose backward rounds
differently), one-output layers are ``F.linear`` per seed (a matrix-vector product), and the
batched linear layer computes its gradients in the layout a separate run does (``_SeedLinear``).
With another BLAS or CPU the seeds may agree with separate runs only to rounding, and then
differ by O(lr * iterations) in those biases and running means (the test asks for 1e-5 and
would say so).

Supported models (``SUPPORTED_MODELS``): those whose toy recipe is a D / G loss on the MLP
networks, with no other network or schedule and at most a per-seed scalar of training state:
GAN, LSGAN, WGAN (weight clipping), WGAN-GP, PacGAN, RelativisticGAN, WGAN-div (its input-gradient
penalty at the real and the fake points, no random draw) and Fisher GAN (its multiplier lambda,
per seed), on vector data (``data_shape`` of rank 1). The input-gradient penalties (WGAN-GP's,
WGAN-div's) take one backward pass for all seeds: their critics have no BatchNorm, so each
sample's gradient is its own, and the norms and means are taken per seed. The others (SNGAN's
power iteration, DRAGAN's perturbations, EBGAN's and BEGAN's autoencoders, MADGAN's generators,
UnrolledGAN's unrolled D) raise ``ValueError``, as do ``grad_clip_norm`` (a norm over a whole
network) and ``lr_decay_iters`` (a schedule the trainer drives).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core import build_optimizer
from gan_lightning.data.base import EpochSeededSampler, GANDataModule
from gan_lightning.losses import (fisher_constraint, fisher_d, fisher_lagrange_update, lsgan_d, lsgan_g,
                                  nonsaturating_d, nonsaturating_g, relativistic_d, relativistic_g, wasserstein_d,
                                  wasserstein_g)
from gan_lightning.models import (GAN, LSGAN, WGAN, WGANGP, FisherGAN, GANModule, PacGAN, RelativisticGAN,
                                  WGANDiv)
from gan_lightning.models.pacgan import pack_samples
from gan_lightning.nets import MLPDiscriminator, MLPGenerator

# Layers that act element-wise: applied to (S, B, F) activations as they are.
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Softplus, nn.Tanh, nn.Identity)


# ----------------------------------------------------------------------------- networks
class _SeedLinear(torch.autograd.Function):
    """x (S, B, in) -> x W_s^T + b_s per seed, with the arithmetic of S separate ``F.linear`` calls.

    Forward is ``torch.baddbmm``; backward computes every gradient in the layout a separate run
    computes it in: the incoming gradient is made contiguous first (BatchNorm returns it in its
    (batch, seed, feature) layout, and a strided sum for the bias rounds in another order, 1 ulp
    measured, in a gradient that is zero but for rounding and that Adam turns into a step of lr),
    and dW = g^T x comes out (S, out, in) like the weight, with no transposing copy."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        grad_weight = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(1) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


class StackedMLP:
    """S copies of one ``MLPGenerator`` / ``MLPDiscriminator`` with stacked weights.

    ``params`` and ``buffers`` map the networks' state-dict names to tensors with a leading
    seed dimension (``torch.func.stack_module_state``). Calling it maps (S, B, in) to
    (S, B, out) (a one-output discriminator: (S, B)).
    """

    def __init__(self, networks: Sequence[nn.Module]) -> None:
        first = networks[0]
        if not all(type(net) is type(first) for net in networks):
            raise ValueError("every seed's network must be of the same class")
        if isinstance(first, MLPGenerator):
            if len(first.data_shape) != 1:
                raise ValueError(f"batched seeds need vector data; the generator makes {first.data_shape}")
            named = [(f"net.{i}", layer) for i, layer in enumerate(first.net)]
            self.squeeze = False
        elif isinstance(first, MLPDiscriminator):
            named = [(f"features.{i}", layer) for i, layer in enumerate(first.features)]
            named.append(("head", first.head))
            self.squeeze = first.head.out_features == 1 if isinstance(first.head, nn.Linear) else False
        else:
            raise ValueError(f"batched seeds support MLPGenerator / MLPDiscriminator, not {type(first).__name__}")
        self.layers: list[tuple[str, nn.Module]] = []
        for name, layer in named:
            if isinstance(layer, nn.Flatten):
                continue  # vector data: (S, B, F) is already flat
            if isinstance(layer, nn.BatchNorm1d) and (layer.momentum is None or not layer.track_running_stats):
                raise ValueError(f"{name}: batched BatchNorm needs a momentum and running statistics")
            if not isinstance(layer, (nn.Linear, nn.BatchNorm1d) + _ELEMENTWISE):
                raise ValueError(f"batched seeds cannot stack layer {name} ({type(layer).__name__})")
            self.layers.append((name, layer))
        params, buffers = torch.func.stack_module_state(list(networks))
        self.params: dict[str, torch.Tensor] = params
        self.buffers: dict[str, torch.Tensor] = buffers
        self.num_seeds = len(networks)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def requires_grad_(self, flag: bool) -> "StackedMLP":
        for param in self.params.values():
            param.requires_grad_(flag)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for name, layer in self.layers:
            if isinstance(layer, nn.Linear):
                weight, bias = self.params[f"{name}.weight"], self.params[f"{name}.bias"]
                if layer.out_features == 1:
                    # F.linear to one output is a matrix-vector product (gemv), which sums in
                    # another order than any batched product: one call per seed keeps its bits.
                    x = torch.stack([F.linear(*per_seed) for per_seed in zip(x.unbind(), weight.unbind(),
                                                                             bias.unbind())])
                else:
                    x = _SeedLinear.apply(x, weight, bias)
            elif isinstance(layer, nn.BatchNorm1d):
                x = self._batch_norm(name, layer, x)
            else:
                x = layer(x)
        return x.squeeze(2) if self.squeeze else x

    def _batch_norm(self, name: str, layer: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        """Per-seed BatchNorm in training mode (the only mode used here: evaluation runs the models
        ``write_into`` fills): the (B, S*F) columns are normalised one by one, each seed's with its
        own statistics; the running buffers are updated in place through views."""
        seeds, batch, features = x.shape
        columns = x.transpose(0, 1).reshape(batch, seeds * features)
        out = F.batch_norm(
            columns, self.buffers[f"{name}.running_mean"].view(-1), self.buffers[f"{name}.running_var"].view(-1),
            self.params[f"{name}.weight"].reshape(-1), self.params[f"{name}.bias"].reshape(-1),
            training=True, momentum=layer.momentum, eps=layer.eps,
        )
        self.buffers[f"{name}.num_batches_tracked"].add_(1)
        return out.reshape(batch, seeds, features).transpose(0, 1)

    @torch.no_grad()
    def write_into(self, index: int, network: nn.Module,
                   params: dict[str, torch.Tensor] | None = None) -> nn.Module:
        """Copy seed ``index``'s weights (``params`` if given, e.g. the EMA's) and buffers into ``network``."""
        state = {name: value[index] for name, value in (params or self.params).items()}
        state.update({name: value[index] for name, value in self.buffers.items()})
        network.load_state_dict(state)
        return network


# ----------------------------------------------------------------------------- losses
@dataclasses.dataclass
class BatchedRecipe:
    """One model's losses over stacked seeds, each returning the (S,) per-seed losses:
    ``discriminator_loss(D, real, fake, rngs)`` (``rngs``: the seeds' noise streams, for losses
    that draw), ``generator_loss(D, real, fake)``, and ``after_discriminator_step(D)``.
    A recipe with per-seed training state reads it from every seed's model (``read_state(models)``,
    once, before training) and writes seed ``index``'s back (``write_state(index, model)``)."""

    discriminator_loss: Callable
    generator_loss: Callable
    after_discriminator_step: Callable = lambda discriminator: None
    read_state: Callable = lambda models: None
    write_state: Callable = lambda index, model: None


def _per_seed(loss: Callable, **options) -> Callable:
    """The model's own loss function applied to each seed's slice of its (S, ...) inputs -> (S,).

    A loop, not ``torch.func.vmap``: the mapped backward of a mean-reduced loss rounds in
    another order (1 ulp in D's gradients, measured)."""
    loss = functools.partial(loss, **options) if options else loss

    def per_seed(*outputs: torch.Tensor) -> torch.Tensor:
        return torch.stack([loss(*seed_outputs) for seed_outputs in zip(*(out.unbind() for out in outputs))])

    return per_seed


def _output_recipe(d_loss: Callable, g_loss: Callable, g_needs_real: bool = False, pack: int = 1) -> BatchedRecipe:
    """Losses that are functions of D's outputs on the real and the fake batch (``pack`` > 1:
    D sees PacGAN's packs of consecutive samples)."""

    def discriminate(discriminator, x):
        if pack > 1:  # a reshape per seed: no arithmetic, so vmap is exact here
            x = torch.func.vmap(functools.partial(pack_samples, pack=pack))(x)
        return discriminator(x)

    def discriminator_loss(discriminator, real, fake, rngs):
        return d_loss(discriminate(discriminator, real), discriminate(discriminator, fake))

    def generator_loss(discriminator, real, fake):
        if g_needs_real:
            return g_loss(discriminate(discriminator, real), discriminate(discriminator, fake))
        return g_loss(discriminate(discriminator, fake))

    return BatchedRecipe(discriminator_loss, generator_loss)


def _input_gradient_norms(discriminator: StackedMLP, x: torch.Tensor) -> torch.Tensor:
    """||dD/dx||_2 of every sample of every seed, (S, B), kept in the graph (``losses.regularizers``'
    ``_input_gradient`` and its norm, for all seeds at once).

    One backward pass serves every seed: the critics of the recipes that call this have no
    BatchNorm, so each sample's score depends on that sample only, and the gradient of the
    summed scores is each sample's own gradient."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(2).norm(2, dim=2)


def _gradient_penalty(discriminator: StackedMLP, real: torch.Tensor, fake: torch.Tensor,
                      rngs: Sequence[torch.Generator]) -> torch.Tensor:
    """``losses.gradient_penalty`` per seed, its eps ~ U[0, 1) per sample drawn from each seed's stream."""
    eps = torch.stack([torch.rand((real.size(1), 1), generator=rng, dtype=real.dtype) for rng in rngs])
    norms = _input_gradient_norms(discriminator, eps * real.detach() + (1.0 - eps) * fake.detach())
    return torch.stack([(seed_norms - 1.0).pow(2).mean() for seed_norms in norms.unbind()])


def _wgan_div_penalty(discriminator: StackedMLP, real: torch.Tensor, fake: torch.Tensor,
                      k: float, p: float) -> torch.Tensor:
    """``losses.wgan_div_penalty`` per seed: k/2 * (E||grad D(x_r)||^p + E||grad D(x_f)||^p)."""
    real_norms = _input_gradient_norms(discriminator, real)
    fake_norms = _input_gradient_norms(discriminator, fake)
    return torch.stack([k * (real_norm.pow(p).mean() + fake_norm.pow(p).mean()) / 2.0
                        for real_norm, fake_norm in zip(real_norms.unbind(), fake_norms.unbind())])


def _gan(model: GAN) -> BatchedRecipe:
    return _output_recipe(_per_seed(nonsaturating_d), _per_seed(model.generator_loss_fn))


def _pacgan(model: PacGAN) -> BatchedRecipe:
    return _output_recipe(_per_seed(nonsaturating_d), _per_seed(nonsaturating_g), pack=model.pack)


def _lsgan(model: LSGAN) -> BatchedRecipe:
    return _output_recipe(_per_seed(lsgan_d, a=model.a, b=model.b), _per_seed(lsgan_g, c=model.c))


def _relativistic(model: RelativisticGAN) -> BatchedRecipe:
    options = dict(kind=model.loss_kind, average=model.average)
    return _output_recipe(_per_seed(relativistic_d, **options), _per_seed(relativistic_g, **options),
                          g_needs_real=True)


def _wgan(model: WGAN) -> BatchedRecipe:
    recipe = _output_recipe(_per_seed(wasserstein_d), _per_seed(wasserstein_g))

    @torch.no_grad()
    def clip(discriminator: StackedMLP) -> None:  # weight_clip_ of every seed at once
        for param in discriminator.parameters():
            param.clamp_(-model.clip_value, model.clip_value)

    recipe.after_discriminator_step = clip
    return recipe


def _wgangp(model: WGANGP) -> BatchedRecipe:
    critic_loss, g_loss = _per_seed(wasserstein_d), _per_seed(wasserstein_g)

    def discriminator_loss(discriminator, real, fake, rngs):
        critic = critic_loss(discriminator(real), discriminator(fake))
        return critic + model.gp_weight * _gradient_penalty(discriminator, real, fake, rngs)

    def generator_loss(discriminator, real, fake):
        return g_loss(discriminator(fake))

    return BatchedRecipe(discriminator_loss, generator_loss)


def _wgandiv(model: WGANDiv) -> BatchedRecipe:
    critic_loss, g_loss = _per_seed(wasserstein_d), _per_seed(wasserstein_g)

    def discriminator_loss(discriminator, real, fake, rngs):
        critic = critic_loss(discriminator(real), discriminator(fake))
        return critic + _wgan_div_penalty(discriminator, real, fake, model.k, model.p)

    def generator_loss(discriminator, real, fake):
        return g_loss(discriminator(fake))

    return BatchedRecipe(discriminator_loss, generator_loss)


def _fishergan(model: FisherGAN) -> BatchedRecipe:
    """Fisher GAN's critic loss with each seed's own multiplier lambda, and lambda's step after each
    critic step from that step's constraint (``FisherGAN.after_discriminator_step``), per seed."""
    g_loss = _per_seed(wasserstein_g)
    state: dict[str, torch.Tensor] = {}  # "lagrange": (S,), "constraint": (S,) of the last critic step

    def read_state(models):
        state["lagrange"] = torch.stack([m.training_state.lagrange.detach().clone() for m in models])

    def discriminator_loss(discriminator, real, fake, rngs):
        scores = list(zip(discriminator(real).unbind(), discriminator(fake).unbind()))
        state["constraint"] = torch.stack([fisher_constraint(*seed_scores) for seed_scores in scores]).detach()
        return torch.stack([fisher_d(*seed_scores, lagrange, model.rho)
                            for seed_scores, lagrange in zip(scores, state["lagrange"].unbind())])

    @torch.no_grad()
    def after_discriminator_step(discriminator):
        lagrange = state["lagrange"]
        lagrange.copy_(torch.stack([fisher_lagrange_update(*seed_state, model.rho)
                                    for seed_state in zip(lagrange.unbind(), state.pop("constraint").unbind())]))

    def generator_loss(discriminator, real, fake):
        return g_loss(discriminator(fake))

    @torch.no_grad()
    def write_state(index, seed_model):
        seed_model.training_state.lagrange.copy_(state["lagrange"][index])

    return BatchedRecipe(discriminator_loss, generator_loss, after_discriminator_step, read_state, write_state)


_RECIPES: dict[type, Callable[[GANModule], BatchedRecipe]] = {
    GAN: _gan, LSGAN: _lsgan, WGAN: _wgan, WGANGP: _wgangp, PacGAN: _pacgan, RelativisticGAN: _relativistic,
    WGANDiv: _wgandiv, FisherGAN: _fishergan,
}
SUPPORTED_MODELS = tuple(cls.__name__ for cls in _RECIPES)


def batched_recipe(model: GANModule) -> BatchedRecipe:
    """The per-seed losses of ``model``'s class with its options; ``ValueError`` for any other class."""
    build = _RECIPES.get(type(model))
    if build is None:
        raise ValueError(f"batched seeds do not support {type(model).__name__}; "
                         f"supported: {', '.join(SUPPORTED_MODELS)}")
    return build(model)


# ----------------------------------------------------------------------------- data
class StackedBatches:
    """Each seed's training batches, in the order its own data loader would give them.

    Every data module must hold a ``TensorDataset`` training set (``Toy2D`` does); batch b of
    epoch e of seed s is ``train_set[order[b * B:(b + 1) * B]]`` with ``order`` the permutation
    of ``EpochSeededSampler(len, seed)`` at epoch e, incomplete last batches dropped.
    """

    def __init__(self, data: Sequence[GANDataModule]) -> None:
        sizes = {dm.batch_size for dm in data}
        if len(sizes) != 1:
            raise ValueError(f"every seed's data module needs the same batch size, got {sorted(sizes)}")
        self.batch_size = sizes.pop()
        points = []
        for dm in data:
            dm.setup("fit")
            tensors = getattr(dm.train_set, "tensors", None)
            if tensors is None:
                raise ValueError(f"batched seeds need a TensorDataset training set; {type(dm).__name__} has "
                                 f"{type(dm.train_set).__name__}")
            points.append(tensors[0])
        if len({p.shape for p in points}) != 1:
            raise ValueError("every seed's training set must have the same shape")
        self.points = torch.stack(points)  # (S, N, ...)
        self.samplers = [EpochSeededSampler(len(p), dm.seed) for p, dm in zip(points, data)]
        self.batches_per_epoch = self.points.size(1) // self.batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(f"a training set of {self.points.size(1)} points has no full batch of {self.batch_size}")

    def __iter__(self):
        epoch = 0
        seed_index = torch.arange(len(self.samplers)).unsqueeze(1)
        while True:
            for sampler in self.samplers:
                sampler.set_epoch(epoch)
            order = torch.tensor([list(sampler) for sampler in self.samplers])
            for b in range(self.batches_per_epoch):
                yield self.points[seed_index, order[:, b * self.batch_size:(b + 1) * self.batch_size]]
            epoch += 1


# ----------------------------------------------------------------------------- training
class SeedwiseOptimizer:
    """The model's own optimizer (``GANModule.optimizer_settings(group)``) over each seed's slice of the
    stacked parameters, one multi-tensor (``foreach``) step for all of them.

    Adam, RMSprop and SGD are element-wise, so one optimizer over the stacked tensors would give
    the same numbers; per-seed slices are about ten times faster on a CPU (each seed's moments
    stay in cache, as in a separate run) and ``foreach`` saves the Python loop over them."""

    def __init__(self, model: GANModule, stacked: Sequence[torch.Tensor], group: str) -> None:
        self.stacked = list(stacked)
        # Leaf views (detach() shares storage): stepping a view updates the stacked tensor.
        self.views = [[param.detach()[s] for param in self.stacked] for s in range(self.stacked[0].size(0))]
        self.optimizer = build_optimizer([view for views in self.views for view in views],
                                         model.optimizer_settings(group))
        for group in self.optimizer.param_groups:
            group["foreach"] = True

    def zero_grad(self) -> None:
        for param in self.stacked:
            param.grad = None

    def step(self) -> None:
        for s, views in enumerate(self.views):
            for param, view in zip(self.stacked, views):
                view.grad = None if param.grad is None else param.grad[s]
        self.optimizer.step()


class SeedwiseEMA:
    """``GANModule.update_ema`` per seed: ema <- lerp(ema, G, 1 - decay), on per-seed slices (see
    ``SeedwiseOptimizer`` for why slices); G's BatchNorm buffers are copied when written out."""

    def __init__(self, params: dict[str, torch.Tensor]) -> None:
        self.params = {name: param.detach().clone() for name, param in params.items()}
        self.pairs = [(self.params[name][s], param.detach()[s])
                      for name, param in params.items() for s in range(param.size(0))]

    @torch.no_grad()
    def update(self, decay: float) -> None:
        for ema, param in self.pairs:
            ema.lerp_(param, 1.0 - decay)


def build_seeded(make_model: Callable[[], GANModule], seed: int) -> tuple[GANModule, torch.Generator]:
    """``make_model()`` right after ``torch.manual_seed(seed)`` (what ``L.seed_everything`` does to
    torch), and a generator in the global RNG state that follows: the seed's noise stream.
    The global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_model()
        rng = torch.Generator()
        rng.set_state(torch.get_rng_state())
    return model, rng


class BatchedSeedsGAN:
    """S seeded runs of one ``GANModule`` recipe as one batched model (see the module docstring).

    ``models``: one freshly built model per seed (same class and options); ``rngs``: each
    seed's noise stream. ``fit(data, iterations)`` trains; ``write_into_models()`` copies
    every seed's weights (and EMA) back into its model, for sampling and evaluation.
    """

    def __init__(self, models: Sequence[GANModule], rngs: Sequence[torch.Generator],
                 ema_decay: float | None = None) -> None:
        if not models or len(models) != len(rngs):
            raise ValueError("batched seeds need one model and one noise generator per seed")
        first = models[0]
        name = type(first).__name__
        self.recipe = batched_recipe(first)
        if any(type(m) is not type(first) or dict(m.hparams) != dict(first.hparams) for m in models):
            raise ValueError("every seed's model must be the same class with the same options")
        if first.grad_clip_norm is not None or first.lr_decay_iters:
            raise ValueError(f"{name}: batched seeds support neither grad_clip_norm nor lr_decay_iters")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {ema_decay}")
        self.models, self.rngs = list(models), list(rngs)
        self.recipe.read_state(self.models)
        self.generator = StackedMLP([m.generator for m in models])
        self.discriminator = StackedMLP([m.discriminator for m in models])
        self.opt_g = SeedwiseOptimizer(first, self.generator.parameters(), "generator")
        self.opt_d = SeedwiseOptimizer(first, self.discriminator.parameters(), "discriminator")
        self.ema_decay = ema_decay
        self.generator_ema = SeedwiseEMA(self.generator.params) if ema_decay is not None else None
        self.iterations_done = 0

    @property
    def num_seeds(self) -> int:
        return len(self.models)

    def sample_noise(self, batch_size: int) -> torch.Tensor:
        latent_dim = self.models[0].latent_dim
        return torch.stack([torch.randn(batch_size, latent_dim, generator=rng) for rng in self.rngs])

    def training_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One iteration of ``GANModule.training_step`` for every seed; returns the (S,) losses."""
        update_g = (self.iterations_done + 1) % self.models[0].critic_steps == 0
        z = self.sample_noise(real.size(1))
        with torch.set_grad_enabled(update_g):
            fake = self.generator(z)

        self.opt_d.zero_grad()
        d_loss = self.recipe.discriminator_loss(self.discriminator, real, fake.detach(), self.rngs)
        d_loss.sum().backward()  # the seeds share no weight: each gets its own loss's gradient
        self.opt_d.step()
        self.recipe.after_discriminator_step(self.discriminator)
        losses = {"d_loss": d_loss.detach()}

        if update_g:
            self.opt_g.zero_grad()
            self.discriminator.requires_grad_(False)  # as the core's optimizer toggle does
            try:
                g_loss = self.recipe.generator_loss(self.discriminator, real, fake)
                g_loss.sum().backward()
            finally:
                self.discriminator.requires_grad_(True)
            self.opt_g.step()
            losses["g_loss"] = g_loss.detach()
        self.iterations_done += 1
        if self.generator_ema is not None:
            self._update_ema()
        return losses

    def _update_ema(self) -> None:
        t = self.iterations_done  # EMACallback reads global_step after the iteration
        self.generator_ema.update(min(self.ema_decay, (1.0 + t) / (10.0 + t)))

    def fit(self, data: Sequence[GANDataModule], iterations: int) -> float:
        """Train ``iterations`` batches; ``data``: one data module per seed. Returns the wall seconds."""
        if len(data) != self.num_seeds:
            raise ValueError(f"{self.num_seeds} seeds but {len(data)} data modules")
        batches = iter(StackedBatches(data))
        started = time.perf_counter()
        for _ in range(iterations):
            self.training_step(next(batches))
        return time.perf_counter() - started

    def write_into_models(self) -> list[GANModule]:
        """Every seed's trained G, D, training state (Fisher GAN's lambda) and EMA of G (with its
        BatchNorm buffers) copied into its model."""
        for index, model in enumerate(self.models):
            self.generator.write_into(index, model.generator)
            self.discriminator.write_into(index, model.discriminator)
            self.recipe.write_state(index, model)
            if self.generator_ema is not None:
                model.enable_ema()
                self.generator.write_into(index, model.generator_ema, self.generator_ema.params)
        return self.models


def fit_seeds(make_model: Callable[[], GANModule], make_data: Callable[[int], GANDataModule],
              seeds: Sequence[int], iterations: int, ema_decay: float | None = None
              ) -> tuple[list[GANModule], float]:
    """Train one run per seed as one batched model; returns the trained models (one per seed, as
    separate runs would leave them) and the wall seconds of the training loop.

    ``make_model()`` builds the model (it is called after seeding the global RNG with each seed);
    ``make_data(seed)`` builds that seed's data module."""
    built = [build_seeded(make_model, seed) for seed in seeds]
    batched = BatchedSeedsGAN([model for model, _ in built], [rng for _, rng in built], ema_decay)
    seconds = batched.fit([make_data(seed) for seed in seeds], iterations)
    return batched.write_into_models(), seconds
