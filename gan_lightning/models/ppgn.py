"""PPGN: Nguyen, Clune, Bengio, Dosovitskiy & Yosinski 2017, "Plug & Play Generative Networks: Conditional
Iterative Generation of Images in Latent Space" (CVPR); the authors' code: Evolving-AI-Lab/ppgn (Caffe; the
sampler only: ``sampler.py``, ``sampling_class.py``, ``1_class_conditional_sampling.sh``; G and the
condition net are downloaded pre-trained, their training code is not released).

PPGN-h: a generator G: h -> x decodes the feature code h = E(x) of a fixed encoder E; a classifier C
(here E's own head: E is C's lower layers, as the authors' E is CaffeNet's fc6 and C its fc8) is the
condition; a DAE R on h is the prior. Samples are drawn by the MALA-approx chain (the paper's Eq. 11)

    h_{t+1} = h_t + eps1 (R(h_t) - h_t) + eps2 d log C_y(G(h_t)) / dh_t + N(0, eps3^2),

run from a random code, the image being G(h_T).

Training (three parts in one model, ours):

- C/E: the project's small stacked-GAN encoder (conv 5x5, pool, conv 5x5, pool, dense ``latent_dim`` ReLU
  = h, dense 10), trained on the labels in the first ``encoder_steps`` iterations (cross-entropy, Adam
  ``encoder_lr`` 1e-3; our choice), then frozen: it is never stepped again (``requires_grad`` stays on so
  that the chain's gradient reaches h through it; it is only in the ``encoder`` optimizer, whose phase
  window has closed). It is the model's own network, not the evaluation's digit judge;
- G (the paper's "noiseless joint PPGN-h" training of G, section 3.5 and S9): L = ``image_weight``
  ||x - G(E(x))||^2 + ``feature_weight`` ||E1(x) - E1(G(E(x)))||^2 + ``adversarial_weight`` L_GAN,
  E1 the pooled convolution maps below h (the paper's h1 = pool5 below fc6), L_GAN the non-saturating
  loss against a DCGAN D. The paper's weights act on sums over 227 px ImageNet images and the
  authors' training code is not released, so ours (1, 1, 0.01, on per-element means) are our choice;
- R: an MLP DAE on h (``dae_hidden``), trained on codes E(x) corrupted by N(0, ``dae_noise``^2)
  (the paper's PPGN-h prior, section 3.3; the noise level of the paper's h DAE is for fc6 codes, ours,
  0.1, our choice), ReLU output as E's codes are;
- G: the project's DCGAN generator with h as its input; D: the project's DCGAN discriminator.

The prior term's R: ``prior="dae"`` (default) the DAE above, as the issue asks (the paper's PPGN-h);
``prior="joint"`` R(h) = E(G(h)), the "upside-down" autoencoder G then E of the joint PPGN-h, which is what
the authors' released sampler computes (``sampler.py``, ``h_autoencoder_grad``: E(G(h)) - h).

Sampling defaults (``1_class_conditional_sampling.sh`` and ``sampler.py``): ``eps1`` 1e-5, ``eps2`` 1,
``eps3`` 1e-17, ``chain_steps`` 200 (``n_iters``), step size ``lr`` 1 with each update rescaled to a mean
absolute value of ``lr`` (``h += lr / mean|d_h| * d_h``), h clipped to [0, 30] after each step, the
start code drawn from N(0, 1) (``init_file`` None) and clipped to [0, 30] before the first step (so that
an all-zero update leaves the chain where it is); the condition's gradient is that of log softmax, as
``sampling_class.py`` computes it (1 - p_y at the class's unit). ``sample(labels=...)`` and ``generate``
run the chain with these defaults for the asked classes; ``sample_chain`` returns every step's images.

Phases: ``E`` (optimizer ``encoder``) for ``encoder_steps`` iterations; then ``R`` (``dae``), ``D``
(``discriminator``) and ``G`` (``generator``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from gan_lightning.core import StepContext, WindowedPhase
from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.base import merged_optimizers
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import LabelConditioned, OwnClassifier
from gan_lightning.nets import network_kind
from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_lightning.nets.layers import eval_mode
from gan_lightning.nets.mlp import MLPGenerator
from gan_lightning.nets.stacked import StackedEncoder

CODE_MAX = 30.0  # sampler.py: np.clip(h, 0, 30)


@register_model
class PPGN(OwnClassifier, LabelConditioned):
    """PPGN-h: G(h) -> x, a frozen classifier C whose features are h, a DAE prior on h; MALA-approx sampling.

    Args:
        latent_dim: the size of the code h (E's feature layer, G's input).
        encoder_width: channels of E's convolutions.
        g_width / d_width: the DCGAN G and D widths.
        dae_hidden: the DAE's hidden layers.
        dae_noise: the std of the Gaussian noise the DAE learns to remove.
        image_weight / feature_weight / adversarial_weight: G's loss weights.
        encoder_steps: the first iterations, in which only the classifier trains (then it is frozen).
        encoder_lr: the classifier's learning rate; ``dae_lr``: the DAE's.
        chain_steps / eps1 / eps2 / eps3 / chain_lr: the sampling chain's defaults.
        prior: the chain's R: ``"dae"`` (the DAE on h) or ``"joint"`` (E(G(h)), the authors' sampler).
    """

    paper = ("Nguyen, Clune, Bengio, Dosovitskiy & Yosinski 2017, Plug & Play Generative Networks: "
             "Conditional Iterative Generation of Images in Latent Space")
    data_kinds = ("image",)
    recipe = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 256,
        num_classes: int = 10,
        encoder_width: int = 32,
        g_width: int = 64,
        d_width: int = 64,
        dae_hidden: Sequence[int] = (512, 512),
        dae_noise: float = 0.1,
        image_weight: float = 1.0,
        feature_weight: float = 1.0,
        adversarial_weight: float = 0.01,
        encoder_steps: int = 500,
        encoder_lr: float = 1e-3,
        dae_lr: float = 1e-3,
        chain_steps: int = 200,
        eps1: float = 1e-5,
        eps2: float = 1.0,
        eps3: float = 1e-17,
        chain_lr: float = 1.0,
        prior: str = "dae",
        **kwargs,
    ) -> None:
        kwargs["optimizers"] = merged_optimizers({"encoder": {"lr": encoder_lr}, "dae": {"lr": dae_lr}},
                                                 kwargs.get("optimizers"))
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if encoder_steps < 1:
            raise ValueError(f"model.encoder_steps must be >= 1 (the classifier is trained first), got {encoder_steps}")
        for key, value in (("dae_noise", dae_noise), ("image_weight", image_weight),
                           ("feature_weight", feature_weight), ("adversarial_weight", adversarial_weight),
                           ("eps1", eps1), ("eps2", eps2), ("eps3", eps3)):
            if value < 0:
                raise ValueError(f"model.{key} must be >= 0, got {value}")
        if chain_steps < 1 or chain_lr <= 0:
            raise ValueError(f"model.chain_steps must be >= 1 and model.chain_lr > 0, got {chain_steps} and {chain_lr}")
        if prior not in ("dae", "joint"):
            raise ValueError(f"model.prior must be 'dae' (the DAE on h) or 'joint' (R(h) = E(G(h))), got {prior!r}")
        network_kind(self.data_shape, "dcgan")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.num_classes = num_classes
        self.prior = prior
        self.dae_noise = float(dae_noise)
        self.image_weight, self.feature_weight = float(image_weight), float(feature_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.encoder_steps = int(encoder_steps)
        self.chain_defaults = {"steps": int(chain_steps), "eps1": float(eps1), "eps2": float(eps2),
                               "eps3": float(eps3), "lr": float(chain_lr)}
        self.encoder = StackedEncoder(channels, size, encoder_width, latent_dim, num_classes)
        self.dae = MLPGenerator(latent_dim, (latent_dim,), tuple(dae_hidden), batch_norm=False)
        self.generator = DCGANGenerator(latent_dim, channels, size, g_width)
        self.discriminator = DCGANDiscriminator(channels, size, d_width)

    # ------------------------------------------------------------------ networks
    def reconstruct_code(self, h: torch.Tensor, net=None) -> torch.Tensor:
        """R(h): the DAE's reconstruction (non-negative, as E's codes); with ``prior="joint"`` E(G(h))."""
        if self.prior == "joint":
            return self.encoder.features(self.decode(h, net))
        return F.relu(self.dae(h))

    def decode(self, h: torch.Tensor, net=None) -> torch.Tensor:
        """G(h), G's input being the code as a 1x1 map (the DCGAN G's input)."""
        return (net or self.generator)(h)

    def sample_chain(self, labels, steps: int | None = None, eps1: float | None = None, eps2: float | None = None,
                     eps3: float | None = None, rng: torch.Generator | None = None, h0: torch.Tensor | None = None,
                     lr: float | None = None, net=None, codes: bool = False):
        """The MALA-approx chain for the classes ``labels`` (an int, or one per chain): the images G(h_t) of
        t = 0..steps, a tensor (steps + 1, chains, C, H, W). ``None`` arguments take the model's defaults;
        ``h0``: the start codes (default N(0, 1) from ``rng``), clipped to [0, 30]. Runs on the model's
        device; the noise is drawn once, before the loop (no host sync per step). ``codes=True``: also
        the codes h_t, (images, codes) with codes (steps + 1, chains, latent_dim)."""
        d = self.chain_defaults
        steps = d["steps"] if steps is None else int(steps)
        eps1, eps2, eps3 = (d[k] if v is None else float(v) for k, v in (("eps1", eps1), ("eps2", eps2), ("eps3", eps3)))
        lr = d["lr"] if lr is None else float(lr)
        if steps < 0 or min(eps1, eps2, eps3) < 0 or lr <= 0:
            raise ValueError(f"sample_chain: steps and eps1/eps2/eps3 must be >= 0 and lr > 0, got steps={steps}, "
                             f"eps1={eps1}, eps2={eps2}, eps3={eps3}, lr={lr}")
        net = net or self.generator
        if isinstance(labels, int):
            num = 1 if h0 is None else h0.size(0)
            labels = torch.full((num,), labels, dtype=torch.long)
        labels = self.resolve_labels(labels, len(labels), self.device)
        num = labels.size(0)
        h = (self.sample_noise(num, rng=rng) if h0 is None else h0.to(self.device)).clamp(0.0, CODE_MAX)
        noise = None
        if eps3 > 0:
            shape = (steps, num, self.latent_dim)
            drawn = (torch.randn(shape, generator=rng).to(self.device) if rng is not None
                     else torch.randn(shape, device=self.device))
            noise = eps3 * drawn
        frames, path = [], [h]
        # the chain needs gradients in h even when called under no_grad or inference mode (a validation hook)
        with torch.inference_mode(False), torch.enable_grad(), eval_mode(net):
            h, labels = h.clone(), labels.clone()
            for step in range(steps):
                h = h.detach().requires_grad_(eps2 > 0)
                image = self.decode(h, net)
                frames.append(image.detach())
                d_h = torch.zeros_like(h)
                if eps1 > 0:
                    with torch.no_grad():
                        d_h = d_h + eps1 * (self.reconstruct_code(h, net) - h)
                if eps2 > 0:
                    log_p = F.log_softmax(self.encoder(image), dim=1).gather(1, labels[:, None]).sum()
                    d_h = d_h + eps2 * torch.autograd.grad(log_p, h)[0]
                if noise is not None:
                    d_h = d_h + noise[step]
                scale = lr / d_h.abs().mean(1, keepdim=True).clamp_min(1e-30)
                h = (h.detach() + scale * d_h).clamp(0.0, CODE_MAX)
                path.append(h)
        with torch.no_grad(), eval_mode(net):
            frames.append(self.decode(h, net))
        return (torch.stack(frames), torch.stack(path)) if codes else torch.stack(frames)

    def generate(self, z, labels=None, net=None, conditions=None):
        """The chain's last image from start codes ``z`` for ``labels`` (cycling through the classes when None)."""
        labels = self.resolve_labels(labels, z.size(0), z.device)
        return self.sample_chain(labels, h0=z, net=net)[-1]

    # ------------------------------------------------------------------ training
    def optimizer_groups(self):
        return {"encoder": self.encoder.parameters(), "dae": self.dae.parameters(),
                "generator": self.generator.parameters(), "discriminator": self.discriminator.parameters()}

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.labels = self.batch_labels(ctx.labels)
        if ctx.iteration < self.encoder_steps:
            return  # only the classifier trains
        with torch.no_grad():
            ctx.code = self.encoder.features(ctx.real)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.decode(ctx.code)

    def dae_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        noisy = ctx.code + self.dae_noise * torch.randn_like(ctx.code)
        return {"r_loss": (self.reconstruct_code(noisy) - ctx.code).pow(2).mean()}

    def d_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        real_logits = self.run_discriminator(ctx.real)
        fake_logits = self.run_discriminator(ctx.fake.detach())
        return {"d_loss": nonsaturating_d(real_logits, fake_logits)}

    def g_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        image = (ctx.fake - ctx.real).pow(2).mean()
        feature = (self.encoder.conv_features(ctx.fake) - self.encoder.conv_features(ctx.real).detach()).pow(2).mean()
        adversarial = nonsaturating_g(self.run_discriminator(ctx.fake))
        loss = self.image_weight * image + self.feature_weight * feature + self.adversarial_weight * adversarial
        return {"g_loss": loss, "g_image": image.detach(), "g_feature": feature.detach(),
                "g_adversarial": adversarial.detach()}

    def phases(self) -> list[WindowedPhase]:
        start = self.encoder_steps
        return [WindowedPhase("E", "encoder", self.encoder_terms, stop=start),
                WindowedPhase("R", "dae", self.dae_terms, start=start),
                WindowedPhase("D", "discriminator", self.d_terms, start=start),
                WindowedPhase("G", "generator", self.g_terms, interval=self.critic_steps, start=start)]
