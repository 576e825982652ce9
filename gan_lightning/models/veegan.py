"""VEEGAN: Srivastava, Valkov, Russell, Gutmann & Sutton 2017, "VEEGAN: Reducing Mode Collapse in
GANs using Implicit Variational Learning" (NeurIPS).

Recipe (the paper's Algorithm 1): besides G: z -> x, a reconstructor network F: x -> z that
inverts G, and a discriminator D(x, z) on joint pairs, as in BiGAN / ALI, which tells data
pairs (x, F(x)), x from the data, from generated pairs (G(z), z), z from the prior. Per batch:
1. D: binary cross-entropy, data pairs 1 and generated pairs 0 (the authors label them the other
   way round; the logit changes sign, nothing else);
2. G and F, one optimiser: G minimises the adversarial term -D(G(z), z) (D's raw logit, the
   density-ratio estimate of the paper's KL term, not the non-saturating log-sigmoid) plus the
   reconstruction of the noise, ||z - F(G(z))||^2 (summed over the code, averaged over the batch);
   F minimises the same reconstruction term (the adversarial term does not depend on F). A
   generator that drops a mode cannot be inverted on it: the codes that should land there come
   back wrong, which the autoencoder loss over the noise punishes.

The reconstructor is stochastic, as in the paper and in the port of the authors' notebook that keeps
its settings (p(z | x) = N(F(x), I): ``reconstructor="unit"``, reconstruction ||z - F(G(z))||^2), or
a Gaussian with a learned softplus scale, the reconstruction its negative log-likelihood
(``"gaussian"``, the default; from a later, modified version of that port, see below): D sees data
pairs (x, z ~ q(z | x)). ``"deterministic"`` gives D F(x) itself; with a noise of many more
dimensions than the data, D then tells the pairs apart at once (F(x) lies on a 2-D sheet of
R^254) and G does not learn (one run on ring8 with the ring8 config, seed 0, 1,500 iterations:
D's loss reached 0 and no sample lay within 3 std of a mode, while the Gaussian F kept D's loss
near 0.7 and put samples on 4 of the 8 modes).

``reconstructor_adversarial=True`` also trains F on the adversarial term of the data pairs,
D(x, F(x)) (F then plays BiGAN's encoder as well; not in the paper's Algorithm 1 nor in the
authors' notebook, where F sees only the reconstruction). ``reconstruction_weight`` scales the
reconstruction term (1: the paper's Algorithm 1 and the Julia port in the authors' repository,
``veegan_julia_mnist.ipynb``, ``MSE`` summed over the code; the TensorFlow port's unit-Gaussian
log-likelihood is half of it).

Where the defaults come from. The authors' code is github.com/akashgit/VEEGAN
(``VEEGAN_2D_RING.ipynb``, TensorFlow); its notebook is too large to be held in the reference
store we read (its blob is missing from the stored snapshot), so the 2-D values are taken from a
public port of that notebook that states it keeps its settings (S. Sinclair's TensorFlow 2
adaptation, github.com/radarsat1/latentspace ``veegan_normal_mixture_keras.py`` at commits
7fa4a26 / 304e3e5, its ``params``): batch 500, a noise of 254 dimensions, G and F with two
hidden layers of 128 ReLU units (D on the concatenated pair, ``n_layer_disc`` 2 in ``params``
although the port's D builds one hidden layer), one Adam with lr 1e-3, beta1 0.5 for G and F
together and one for D; noise N(0, I); D's cross-entropy with data pairs and generated pairs on
opposite labels; G's adversarial term D's raw logit on generated pairs; F's output
``Normal(loc=F(x), scale=1)`` and the reconstruction its log-likelihood (0.5 ||z - F(G(z))||^2 up to
a constant: ``reconstructor="unit"`` with ``reconstruction_weight`` 0.5). The learned softplus scale
of the ``"gaussian"`` default appears only in the port's next version (commit 397a0df,
``normal_mixture_keras.py``, which also moved to a noise of 50 dimensions and added BiGAN / GAN
switches): it is not the notebook's setting. The notebook also feeds G one extra noise unit, left
out here. The ring8 / grid25 configs (``experiments/veegan/ring8.yaml`` / ``grid25.yaml``) use
these sizes, batch and optimiser, with the ``"gaussian"`` default reconstructor. The defaults of
this class are the same networks, with the GANModule latent size 100; on images (MNIST5k) G is
the DCGAN generator, F the DCGAN-body encoder and D BiGAN's joint discriminator (the paper's
image networks are DCGAN-style; their exact sizes are not in the notebook), ``experiments/veegan/
mnist5k.yaml``. G's MLP has no batch norm (the authors' has none; ``g_batch_norm`` adds it).

``reconstruct(x)`` = G(F(x)); ``encode(x)`` = F(x) (the mean); ``discriminate(x)`` = D(x, F(x)).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from gan_lightning.core import Phase, StepContext
from gan_lightning.losses import nonsaturating_d
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets import (
    ConvEncoder,
    DCGANGenerator,
    JointDiscriminator,
    JointMLPDiscriminator,
    MLPDiscriminator,
    MLPGenerator,
    network_kind,
)


@register_model
class VEEGAN(GANModule):
    paper = "Srivastava et al. 2017, VEEGAN: Reducing Mode Collapse in GANs using Implicit Variational Learning"
    data_kinds = ("image", "toy2d")
    recipe = {"lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.5, 0.999)}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        g_hidden: Sequence[int] = (128, 128),
        d_hidden: Sequence[int] = (128, 128),
        f_hidden: Sequence[int] = (128, 128),
        g_batch_norm: bool = False,
        g_width: int = 64,
        d_width: int = 64,
        f_width: int | None = None,
        d_norm: Literal["batch", "none", "layer"] = "batch",
        joint_hidden: int = 512,
        reconstructor: Literal["gaussian", "unit", "deterministic"] = "gaussian",
        reconstruction_weight: float = 1.0,
        reconstructor_adversarial: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if not reconstruction_weight >= 0:
            raise ValueError(f"model.reconstruction_weight must be >= 0, got {reconstruction_weight}")
        if reconstructor not in ("gaussian", "unit", "deterministic"):
            raise ValueError(f"model.reconstructor must be 'gaussian', 'unit' or 'deterministic', got {reconstructor!r}")
        self.reconstructor_kind = reconstructor
        self.reconstruction_weight = float(reconstruction_weight)
        f_outputs = latent_dim * (2 if reconstructor == "gaussian" else 1)
        self.reconstructor_adversarial = bool(reconstructor_adversarial)
        if network_kind(self.data_shape) == "mlp":
            data_dim = self.data_shape[0]
            self.generator = MLPGenerator(latent_dim, self.data_shape, tuple(g_hidden), batch_norm=g_batch_norm)
            self.reconstructor = MLPDiscriminator(self.data_shape, tuple(f_hidden), outputs=f_outputs,
                                                  hidden_activation="relu")
            self.discriminator = JointMLPDiscriminator(data_dim, latent_dim, tuple(d_hidden))
        else:
            channels, size = self.data_shape[0], self.data_shape[1]
            self.generator = DCGANGenerator(latent_dim, channels, size, g_width)
            self.reconstructor = ConvEncoder(channels, size, f_width or d_width, f_outputs)
            self.discriminator = JointDiscriminator(channels, size, d_width, latent_dim, joint_hidden, d_norm)

    # ------------------------------------------------------------------ networks
    def reconstructor_gaussian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """F's q(z | x): its mean, (N, latent_dim), and its scale (``gaussian``: softplus of F's second
        half, as the authors' notebook; ``unit``: None, the paper's N(F(x), I); ``deterministic``: None)."""
        out = self.reconstructor(x).reshape(x.size(0), -1)
        if self.reconstructor_kind != "gaussian":
            return out, None
        mean, raw_scale = out.chunk(2, dim=1)
        return mean, F.softplus(raw_scale) + 1e-6

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """F(x), (N, latent_dim): the mean of the reconstructed noise."""
        return self.reconstructor_gaussian(x)[0]

    def encode_sample(self, x: torch.Tensor) -> torch.Tensor:
        """The code D sees beside data: a draw of q(z | x) (the mean for a ``deterministic`` F)."""
        mean, scale = self.reconstructor_gaussian(x)
        if self.reconstructor_kind == "deterministic":
            return mean
        noise = torch.randn_like(mean)
        return mean + (noise if scale is None else scale * noise)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(self.encode(x))

    def discriminate(self, x, labels=None):
        """D(x, F(x)): the logit that (x, F(x)) is a data pair."""
        return self.run_discriminator(x, self.encode(x))

    def noise_reconstruction(self, z: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The autoencoder loss over the noise, summed over the code and averaged over the batch:
        ||z - F(G(z))||^2 (the paper's d; ``unit`` and ``deterministic``), or for a ``gaussian`` F the
        negative log-likelihood of z under q(z | G(z)), without its constant (the authors' notebook)."""
        mean, scale = self.reconstructor_gaussian(fake)
        if scale is None:
            return (z - mean).pow(2).sum(dim=1).mean()
        return (0.5 * ((z - mean) / scale).pow(2) + scale.log()).sum(dim=1).mean()

    # ------------------------------------------------------------------ optimisation
    def optimizer_groups(self):
        """G and F share one optimiser (the authors' ``gen_loss`` over both)."""
        return {"generator": itertools.chain(self.generator.parameters(), self.reconstructor.parameters()),
                "discriminator": self.discriminator.parameters()}

    def prepare_step(self, ctx: StepContext) -> None:
        ctx.z = self.sample_noise(ctx.batch_size)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.generator(ctx.z)
        with torch.set_grad_enabled(ctx.runs("G") and self.reconstructor_adversarial):
            ctx.code = self.encode_sample(ctx.real)

    def phases(self) -> list[Phase]:
        return self.adversarial_phases(self.discriminator_terms, self.generator_terms)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        data_logits = self.run_discriminator(ctx.real, ctx.code.detach())
        generated_logits = self.run_discriminator(ctx.fake.detach(), ctx.z)
        return {"d_loss": nonsaturating_d(data_logits, generated_logits),
                "d_real": data_logits.mean(), "d_fake": generated_logits.mean()}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        adversarial = -self.run_discriminator(ctx.fake, ctx.z).mean()
        reconstruction = self.noise_reconstruction(ctx.z, ctx.fake)
        loss = adversarial + self.reconstruction_weight * reconstruction
        terms = {"g_adversarial": adversarial, "z_recon": reconstruction}
        if self.reconstructor_adversarial:
            f_adversarial = self.run_discriminator(ctx.real, ctx.code).mean()
            loss = loss + f_adversarial
            terms["f_adversarial"] = f_adversarial
        return {"g_loss": loss, **terms}

    def heldout_step(self, batch, batch_idx, stage):
        real = StepContext(batch).real
        z = self.sample_noise(real.size(0), rng=torch.Generator().manual_seed(batch_idx))
        fake = self.generator(z)
        scores = {f"{stage}/d_real": self.run_discriminator(real, self.encode(real)).mean(),
                  f"{stage}/d_fake": self.run_discriminator(fake, z).mean(),
                  f"{stage}/z_recon": self.noise_reconstruction(z, fake),
                  f"{stage}/x_recon_mse": F.mse_loss(self.reconstruct(real), real)}
        self.log_dict(scores, on_epoch=True, batch_size=real.size(0))
