"""MAD-GAN: Ghosh, Kulharia, Namboodiri, Torr & Dokania 2018, "Multi-Agent Diverse Generative
Adversarial Networks" (CVPR).

Recipe: K generators and one discriminator with K + 1 outputs. D is a (K + 1)-way softmax
classifier: real data is class K, samples of generator i are class i, trained with cross-entropy;
so D must tell the generators apart, which pushes them towards different modes. Each
generator wants its samples classified as real: the non-saturating form -log D_K(G_i(z)) of
the paper's generator objective (cross-entropy towards the real class).

Choices: the generators share nothing (the paper shares all but the last layers of its
generators to save parameters; independent ones are the simplest faithful variant and need
no generator-specific builder). K = 3 by default; Adam lr 2e-4, betas (0.5, 0.999), one D
step per G step, as in the DCGAN set-up the paper's image experiments build on.

``self.generator`` is a :class:`MultiGenerator` holding the K generators: sample n of a
batch comes from generator n mod K, so sampling, the EMA copy and checkpoints treat it as
one network. ``discriminate`` returns log D_K(x), the log-probability of "real".

``objective="similarity"``: MAD-GAN-Sim, the paper's similarity-based competing objective
(appendix B of the arXiv version; section 3 of its first version). D is the ordinary binary
real / fake discriminator (BCE, one logit) and each generator's loss adds, to the
non-saturating GAN loss, a margin term on a similarity psi of D's features phi (its last hidden
layer; ``features`` of the MLP and DCGAN discriminators): for the same noise z, a sample of
generator i should be more similar to another sample of its own, G_i(z'), than to the other
generators' samples G_j(z), by a margin Delta:

    sim_i = mean_z 1/(K-1) sum_{j != i} max(0, Delta + psi(phi(G_i(z)), phi(G_j(z)))
                                              - psi(phi(G_i(z)), phi(G_i(z'))))

with psi the cosine similarity (the paper's choice) and z' the batch's noise rolled by one.
Generators that draw the same points for the same z pay Delta + 1 - psi_own; generators in
different modes pay nothing. G's loss is the GAN loss + ``similarity_weight`` x the mean of
sim_i over generators; phi is computed with D's weights but only G is stepped on it. The
authors' code for this variant was not found (their released MAD-GAN code is the (K+1)-class
form); ``similarity_margin`` (Delta = 0.5) and ``similarity_weight`` (1) are our defaults,
not values from the paper. The term draws batch_size // K noise vectors of its own, each
given to every generator.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from gan_lightning.losses import nonsaturating_d, nonsaturating_g
from gan_lightning.models.registry import register_model
from gan_lightning.models.shared import ShapedGAN
from gan_lightning.nets.builders import MultiGenerator
from gan_lightning.nets import build_discriminator


@register_model
class MADGAN(ShapedGAN):
    paper = "Ghosh et al. 2018, Multi-Agent Diverse Generative Adversarial Networks"
    data_kinds = ("image", "toy2d")

    def __init__(
        self,
        num_generators: int = 3,
        objective: Literal["classifier", "similarity"] = "classifier",
        similarity_margin: float = 0.5,
        similarity_weight: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if num_generators < 1:
            raise ValueError(f"model.num_generators must be >= 1, got {num_generators}")
        if objective not in ("classifier", "similarity"):
            raise ValueError(f"model.objective must be 'classifier' or 'similarity', got {objective!r}")
        if objective == "similarity" and num_generators < 2:
            raise ValueError(f"model.objective 'similarity' needs model.num_generators >= 2, got {num_generators}")
        if similarity_weight < 0:
            raise ValueError(f"model.similarity_weight must be >= 0, got {similarity_weight}")
        self.num_generators, self.objective = num_generators, objective
        self.similarity_margin, self.similarity_weight = float(similarity_margin), float(similarity_weight)
        self.generator = MultiGenerator(
            [self.shaped_generator() for _ in range(num_generators)]
        )
        outputs = 1 if objective == "similarity" else num_generators + 1
        self.discriminator = build_discriminator(
            self.data_shape, self.d_hidden, self.d_width, d_outputs=outputs, d_norm=self.d_norm,
            **self.minibatch_options(),
        )

    @property
    def real_class(self) -> int:
        return self.num_generators

    def discriminate(self, x, labels=None):
        """log D_K(x): D's log-probability that each sample is real, (N,) (``similarity``: D's logit)."""
        if self.objective == "similarity":
            return self.run_discriminator(x)
        return F.log_softmax(self.run_discriminator(x), dim=1)[:, self.real_class]

    # ------------------------------------------------------------------ MAD-GAN-Sim
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): D's last hidden features, flattened, (N, F)."""
        return self.run_discriminator(x, method="features").flatten(1)

    def similarity_term(self, z: torch.Tensor) -> torch.Tensor:
        """The mean over generators i and noise z of 1/(K-1) sum_{j != i} max(0, Delta + psi_ij - psi_ii'),
        psi the cosine similarity of D's features, every generator fed the same ``z`` (see the module docstring)."""
        k = self.num_generators
        own = torch.stack([self.features(g(z)) for g in self.generator.generators])  # (K, m, F)
        other_noise = self.features(torch.cat([g(z.roll(1, dims=0)) for g in self.generator.generators]))
        other_noise = other_noise.view_as(own)  # G_i(z'), z' the noise rolled by one
        unit, unit_other = F.normalize(own, dim=2), F.normalize(other_noise, dim=2)
        cross = torch.einsum("imf,jmf->ijm", unit, unit)  # psi(phi(G_i(z)), phi(G_j(z)))
        within = (unit * unit_other).sum(dim=2)  # psi(phi(G_i(z)), phi(G_i(z'))), (K, m)
        hinge = F.relu(self.similarity_margin + cross - within.unsqueeze(1))  # (i, j, m)
        off_diagonal = ~torch.eye(k, dtype=torch.bool, device=z.device)
        return hinge[off_diagonal].mean()

    def discriminator_loss(self, real, fake, labels=None):
        if self.objective == "similarity":
            real_logits, fake_logits = self.run_discriminator(real), self.run_discriminator(fake)
            return {"d_loss": nonsaturating_d(real_logits, fake_logits),
                    "d_real": real_logits.mean(), "d_fake": fake_logits.mean()}
        real_logits, fake_logits = self.run_discriminator(real), self.run_discriminator(fake)
        real_target = torch.full((real.size(0),), self.real_class, dtype=torch.long, device=real.device)
        fake_target = self.generator.assignment(fake.size(0), fake.device)
        real_loss = F.cross_entropy(real_logits, real_target)
        fake_loss = F.cross_entropy(fake_logits, fake_target)
        return {"d_loss": real_loss + fake_loss, "d_loss_real": real_loss, "d_loss_fake": fake_loss,
                "d_real": F.softmax(real_logits, dim=1)[:, self.real_class].mean(),
                "d_fake": F.softmax(fake_logits, dim=1)[:, self.real_class].mean()}

    def generator_loss(self, real, fake, labels=None):
        if self.objective == "similarity":
            adversarial = nonsaturating_g(self.run_discriminator(fake))
            similarity = self.similarity_term(self.sample_noise(max(2, fake.size(0) // self.num_generators)))
            return {"g_loss": adversarial + self.similarity_weight * similarity,
                    "g_adversarial": adversarial, "g_similarity": similarity}
        target = torch.full((fake.size(0),), self.real_class, dtype=torch.long, device=fake.device)
        # Equal shares of the batch per generator: the mean is the average of the K generators' losses.
        return {"g_loss": F.cross_entropy(self.run_discriminator(fake), target)}
