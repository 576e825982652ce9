"""SAGAN: Zhang, Goodfellow, Metaxas & Odena 2019, "Self-Attention Generative Adversarial Networks" (ICML).

Recipe (defaults from the paper, sections 4-5): a self-attention block
(:class:`~gan_lightning.nets.attention.SelfAttention2d`, gamma initialised to 0) in G and in D
at the same feature-map resolution (``attention_resolution``; default the second-to-last level
of G, image_size / 2: the paper's Table 1 finds the larger maps best, feat32 and feat64 of a
128 px G, and the authors' code attends at 32x32 in both); spectral norm on every layer of BOTH G and D but G's
image layer (the DCGAN-style networks' source, heykeetae/Self-Attention-GAN ``sagan_models.py``, leaves that one
unnormalised; the authors' residual G normalises it, ``g_image_layer_spectral_norm=True``, which on these networks
holds G to one blob repeated at the MNIST recipe's budget: issue 26, section ``sagan_attention``); the hinge loss
(D: E relu(1 - D(x)) + E relu(1 + D(G(z))), G: -E D(G(z))); the two time-scale update rule
(TTUR): Adam lr 1e-4 for G and 4e-4 for D, betas (0, 0.9), one D step per G step.
z ~ N(0, I) in R^128 (the authors' ``z_dim``). The optimiser values were checked against the issue and
summaries quoting the paper's section 5, not against its full text here.

Not everyone trains it so: the authors' released code defaults to lr 4e-4 for both with beta1 = 0
(TensorFlow's beta2 0.999), and StudioGAN's CIFAR-10 SAGAN config does not use TTUR (only its
ImageNet one does, 1e-4 / 4e-4 with betas (0, 0.999)). Each is a flag away (``lr_g``, ``betas``).

Unconditional: the paper's ImageNet model is class-conditional (conditional BN, projection D);
that part is BigGAN's here. Networks: DCGAN-style for 28-64 px (``nets/sagan.py``; the authors'
residual ones are for 128 px).
"""

from __future__ import annotations

from typing import Sequence

from gan_lightning.losses import hinge_d, hinge_g
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.sagan import SAGANDiscriminator, SAGANGenerator


@register_model
class SAGAN(GANModule):
    paper = "Zhang, Goodfellow, Metaxas & Odena 2019, Self-Attention Generative Adversarial Networks"
    data_kinds = ("image",)
    recipe = {"lr_g": 1e-4, "lr_d": 4e-4, "betas": (0.0, 0.9), "critic_steps": 1}

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 32, 32),
        latent_dim: int = 128,
        g_width: int = 64,
        d_width: int = 64,
        attention_resolution: int | None = None,
        pool_keys: bool = True,
        g_spectral_norm: bool = True,
        attention: bool = True,
        g_image_layer_spectral_norm: bool = False,
        **kwargs,
    ) -> None:
        """``attention_resolution``: the feature-map size of G and D where the attention block goes
        (None: image_size / 2). ``pool_keys``: max-pool keys and values 2x2 as the reference code
        (False: the paper's formula, every position). ``g_spectral_norm=False``: SNGAN's G, for ablation.
        ``attention=False``: no attention block in G or D, the paper's baseline (its Table 1 "no attention"
        column: the same networks and training with spectral norm only). ``g_image_layer_spectral_norm``: spectral
        norm on G's last layer (features -> image) too, as the authors' residual G (default False: as heykeetae's
        DCGAN-style G, whose networks these follow)."""
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if len(self.data_shape) != 3 or self.data_shape[1] != self.data_shape[2]:
            raise ValueError(f"SAGAN needs square images (C, H, H); data_shape is {self.data_shape}")
        channels, size = self.data_shape[0], self.data_shape[1]
        self.generator = SAGANGenerator(latent_dim, channels, size, g_width, attention_resolution,
                                        spectral_norm=g_spectral_norm, pool_keys=pool_keys, attention=attention,
                                        image_layer_spectral_norm=g_image_layer_spectral_norm)
        self.discriminator = SAGANDiscriminator(channels, size, d_width, attention_resolution, pool_keys=pool_keys,
                                                attention=attention)

    def discriminator_loss(self, real, fake, labels=None):
        real_out, fake_out = self.discriminate(real), self.discriminate(fake)
        return {"d_loss": hinge_d(real_out, fake_out), "d_real": real_out.mean(), "d_fake": fake_out.mean(),
                **_gamma("d_attention_gamma", self.discriminator)}

    def generator_loss(self, real, fake, labels=None):
        return {"g_loss": hinge_g(self.discriminate(fake)), **_gamma("g_attention_gamma", self.generator)}


def _gamma(name: str, net) -> dict:
    """``{name: gamma}`` of ``net``'s attention block, logged: how much non-local evidence it uses (0 at the
    start); empty without attention."""
    block = net.attention
    return {} if block is None else {name: block.gamma.detach()}
