"""Triple-GAN: Li, Xu, Zhu & Zhang 2017, "Triple Generative Adversarial Nets" (NeurIPS).

Recipe: three players. A classifier C models p_c(y | x), a conditional generator G models
p_g(x | y), and a discriminator D(x, y) judges (image, label) pairs. D takes the labelled
pairs (x_l, y_l) as real, and as fake both the pseudo pairs (x_u, C(x_u)) of unlabelled
images and the generated pairs (G(z, y), y), weighted alpha and 1 - alpha (alpha = 1/2):

    D: min -E log D(x_l, y_l) - alpha E log(1 - D(x_u, y_c)) - (1 - alpha) E log(1 - D(G(z, y), y))
    G: min (1 - alpha) E -log D(G(z, y), y)                        (non-saturating)
    C: min alpha E_{x_u} p_c(y_c | x_u) (-log D(x_u, y_c))            (y_c = argmax C(x_u))
           + CE(C(x_l), y_l)                                         (R_L, labelled data)
           + pseudo_weight(t) CE(C(G(z, y)), y)                      (R_P, pseudo-discriminative loss)
           + entropy_weight H(C(x_u)) + balance_weight CE(mean C(x_u), uniform)

C's adversarial term is the authors' "argmax" form (their default ``objective_flag``): y_c is
C's most likely class, and the gradient reaches C through its probability p_c(y_c | x_u)
(D's score is a constant for C). R_P is switched on once G is useful: weight 0 before
``pseudo_start`` iterations, then ramped linearly to ``pseudo_weight`` over ``pseudo_rampup``
iterations (0: at once, as the authors' code does). One iteration steps D, then G, then C
(phases ``D``, ``G``, ``C``; optimizers ``discriminator``, ``generator``, ``classifier``).

Defaults, from the authors' MNIST code (github.com/zhenxuan00/triple-gan,
``x2y_yz2x_xy2p_ssl_mnist.py``): alpha 0.5; R_P weight 0.1 (``alpha_cla_g``) from epoch 300
of 1,000 (``epoch_cla_g``) -- here ``pseudo_start`` = 900 iterations, 30 % of the 3,000 of
``experiments/triplegan/mnist5k.yaml``; the unlabelled-entropy weight 0.3 and the
class-balance weight 1e-3 of C's loss (``alpha_unlabeled_entropy``, ``alpha_average``); Adam
with lr 1e-3 and beta1 0.5 for all three networks (``recipe``; the per-network table
``optimizers: {classifier: {...}}`` sets C's alone); 100 labels (10 per class). Networks:
C the authors' CNN (conv 5x5 width w, max-pool, dropout 0.5, conv 3x3 2w, conv 3x3 2w,
max-pool, dropout 0.5, two conv 3x3 4w, global average pool, linear; BatchNorm after every
conv, w = 32: ``c_width``); G an MLP 500-500 with softplus and BatchNorm, the one-hot label
concatenated to the input of every layer, tanh output (ours are [-1, 1] images; theirs
sigmoid on [0, 1]); D an MLP 1000-500-250-250-250 with ReLU, the one-hot label concatenated
to every layer's input, Gaussian noise 0.6 on its input (their 0.3 on [0, 1] pixels) and 0.5
on hidden layers.

One change from the authors' code, measured: C's forward on G's samples (R_P) leaves C's
BatchNorm running statistics alone (``frozen_running_statistics``). With the statistics of early,
poor samples mixed in, C's eval-mode held-out accuracy after 100 MNIST5k iterations was 38.0 %;
without them 84.0 % (benchmarks/semisupervised.py, seed 0).

Not taken from the authors' code by default (said so rather than hidden): their D also sees
C-labelled pairs of a second unlabelled batch as *real* (400 of them beside 1 labelled pair
per step at 100 labels: ``batch_size_u_d``, ``batch_size_l_d`` and ``dis_out_p``; the default follows the
paper's objective, labelled pairs only; ``pseudo_real`` = k takes the first k images of the step's unlabelled
batch, with C's labels, as real pairs beside the labelled batch, and the other images as C's fake pairs, so no
image is both in one step); D's labelled real pairs per step: the whole labelled batch by default, ``d_labelled``
= k its first k (theirs: ``batch_size_l_d`` = max(num_labelled / 100, 1), one at 100 labels, beside 400 C-labelled
pairs, where the recipe's 64 labelled pairs come from the same 100 digits every step); their 30-epoch
pre-training of C at 100 labels or fewer (``pre_num_epoch``: C alone on
its labelled cross-entropy, the entropy term 0.3 and the balance term 0.3, ``pre_alpha_unlabeled_entropy``,
``pre_alpha_average``) is ``pretrain_steps`` (default 0: none) iterations of phase ``Cpre`` before the game, with
C's own optimiser (theirs a separate Adam, lr 3e-4, beta1 0.9) and ``pretrain_balance_weight`` 0.3; R_P's
``pseudo_start`` counts the game's iterations. D's layers there are weight-normalised with the scale fixed at 1
(``nn.py``'s ``DenseLayer``: ``weight_scale`` 1, ``train_scale`` False), every unit's weight vector of norm 1:
``d_unit_norm`` (default False, as before). ``d_pseudo_weight`` (default null: alpha, the paper's objective) sets
D's weight on C's fake pairs alone, leaving alpha in G's and C's losses (a diagnostic: which side of alpha acts).
Their learning-rate annealing (every rate x0.995 a epoch from epoch 300 of 1,000: ``anneal_lr_epoch``,
``anneal_lr_every_epoch``, ``anneal_lr_factor``) is ``anneal_lr_start`` / ``anneal_lr_every`` / ``anneal_lr_factor``
in iterations (default off; scaled as R_P's start is, epoch 300 of 1,000 is iteration 900 of the recipe's 3,000 and
an epoch 3 iterations); G's own batch (their ``batch_size_g`` 200 against 100 C pairs) is ``g_batch`` (default null:
the data's batch size); the weight normalisation of G's output layer (``l2normalize``: trained scale from 1) is
``g_output_norm`` (default False). Their running average of C's weights used for evaluation and their weight decay
1e-4 on C's last layer are left out. Other batch sizes follow the data module (the labelled batch is min(batch size,
num_labeled)); G's labels are balanced (0, 1, ..., 9, 0, ...), as in the authors' code.

At the recipe's 3,000 iterations on MNIST5k (issue 26, ``benchmarks/semisupervised.py``, seed 0, C width 32), with
the paper's objective (D's real pairs labelled ones only) C read 87.0 % of the held-out digits, below the same C on
the 100 labels alone (94.0 %); without the adversarial term (``alpha=0``) 97.4 %. With the authors' real pairs
(``pseudo_real`` 32, now the recipe's) C reads 97.8 %, above C alone (McNemar p = 0.00016) and level with C with
only its entropy and balance terms (98.8 %, p = 0.12); on seed 1, 95.6 % vs 93.8 % for C alone (p = 0.093, not
significant) and 97.8 % with the terms alone. A reading, not measured: with labelled real pairs only, D can
learn to tell C's pairs from true ones and C's adversarial term then pushes C's labels around; with C-labelled
pairs on both sides D cannot, and the term is left to sharpen C's own predictions.
A second run of those settings before ``unlabelled_terms`` was factored out (the same sums in another floating-point
order) read 97.4 %.
C's pre-training on top of the recipe (``pretrain_steps`` 2,100, about the authors' 30 epochs of the 4,500 digits)
read 96.2 % (one run): no gain, so the recipe leaves it off. G's samples at that budget are not digits (seed 1: one
shape for every class); ``d_labelled`` 1 (the authors' one labelled real pair per step) leaves G drawing two shapes
whatever the class and C at 96.6 %, so D learning the 100 labelled digits by heart is not the cause; nor D's
unconstrained layers: with ``d_unit_norm`` the digits classifier reads 9.4 % of G's samples as the asked class (the
recipe's 9.8 %, chance) and C reads 97.2 %; with ``alpha`` 0 (C's pairs off D's fake side) G draws the asked
digits and C reads 98.4 % (seed 1: 97.0 %, G's samples 79.3 % the asked class), and with ``d_pseudo_weight`` 0 alone
57.2 % (C 95.4 %; seed 1: 61.6 %; at half the weight, 0.25, 9.3 %): D's weight on C's fake pairs is what holds G
back. Read every 100 iterations, the recipe's D scores held-out digits 0.50-0.70 (its optimum with C's pairs of the
same digits at half weight on its fake side is 2/3) and swings on G's samples between 0.006 and 0.50; with that
weight at 0, digits 0.81-0.99. The authors' other settings (``g_batch`` 200, their annealing from iteration 900
every 3, ``g_output_norm``, all of them with ``d_labelled`` 1 and ``d_unit_norm``), three times the batch and the
authors' batch composition (batch 500 with ``pseudo_real`` 400, ``d_labelled`` 1, ``g_batch`` 200) leave G at
10.0-12.8 % at 3,000 iterations. Trained on past the budget, G learned on seed 0 from about 5,000 iterations (74.4 %
at 8,250) and drew noise again by 9,000; on seed 1 it drew one shape up to 6,750.

``predict(x)`` is C's class (eval mode), ``classify(x)`` its logits; ``heldout_acc`` in
validation is C's accuracy on the held-out split. Only ``num_labeled`` labels are read
(``gan_lightning.models._labeled``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_lightning.core.protocol import Condition
from gan_lightning.core import Phase, StepContext, WindowedPhase
from gan_lightning.models.shared import LabeledSubset
from gan_lightning.models.base import GANModule
from gan_lightning.models.registry import register_model
from gan_lightning.nets.conditional import LabelConcatDiscriminator, LabelConcatGenerator, TripleClassifier
from gan_lightning.nets.conditional import check_labels, cycle_labels


@contextmanager
def frozen_running_statistics(module: nn.Module):
    """BatchNorm layers of ``module`` normalise with their batch's statistics (train mode) but do not
    update their running statistics (momentum 0) inside the block."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
             for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


@register_model
class TripleGAN(LabeledSubset, GANModule):
    paper = "Li et al. 2017, Triple Generative Adversarial Nets"
    data_kinds = ("image",)
    recipe = {"lr_g": 1e-3, "lr_d": 1e-3}  # C's group takes lr_g (every group not named discriminator*)

    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 100,
        num_classes: int = 10,
        num_labeled: int = 100,
        labeled_seed: int = 0,
        alpha: float = 0.5,
        pseudo_weight: float = 0.1,
        pseudo_start: int = 900,
        pseudo_rampup: int = 0,
        entropy_weight: float = 0.3,
        balance_weight: float = 1e-3,
        g_hidden: Sequence[int] = (500, 500),
        d_hidden: Sequence[int] = (1000, 500, 250, 250, 250),
        d_input_noise: float = 0.6,
        d_hidden_noise: float = 0.5,
        c_width: int = 32,
        c_dropout: float = 0.5,
        pseudo_real: int = 0,
        d_labelled: int | None = None,
        d_unit_norm: bool = False,
        d_pseudo_weight: float | None = None,
        pretrain_steps: int = 0,
        pretrain_balance_weight: float = 0.3,
        g_batch: int | None = None,
        g_output_norm: bool = False,
        anneal_lr_start: int | None = None,
        anneal_lr_every: int = 1,
        anneal_lr_factor: float = 0.995,
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, latent_dim=latent_dim, **kwargs)
        if len(self.data_shape) != 3:
            raise ValueError(f"TripleGAN needs image data (C, H, W), got data_shape {self.data_shape}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"model.alpha must lie in [0, 1], got {alpha}")
        for key, value in (("pseudo_weight", pseudo_weight), ("pseudo_start", pseudo_start),
                           ("pseudo_rampup", pseudo_rampup), ("entropy_weight", entropy_weight),
                           ("balance_weight", balance_weight), ("pseudo_real", pseudo_real),
                           ("pretrain_steps", pretrain_steps), ("pretrain_balance_weight", pretrain_balance_weight)):
            if value < 0:
                raise ValueError(f"model.{key} must be >= 0, got {value}")
        if d_pseudo_weight is not None and d_pseudo_weight < 0:
            raise ValueError(f"model.d_pseudo_weight must be >= 0 (or null: alpha), got {d_pseudo_weight}")
        if g_batch is not None and g_batch < 1:
            raise ValueError(f"model.g_batch must be >= 1 (or null: the data's batch size), got {g_batch}")
        if anneal_lr_start is not None and anneal_lr_start < 0:
            raise ValueError("model.anneal_lr_start must be >= 0 (or null: constant learning rates), "
                             f"got {anneal_lr_start}")
        if anneal_lr_every < 1:
            raise ValueError(f"model.anneal_lr_every must be >= 1, got {anneal_lr_every}")
        if not 0.0 < anneal_lr_factor <= 1.0:
            raise ValueError(f"model.anneal_lr_factor must lie in (0, 1], got {anneal_lr_factor}")
        if d_labelled is not None and d_labelled < 1:
            raise ValueError(f"model.d_labelled must be >= 1 (or null: the whole labelled batch), got {d_labelled}")
        self.init_labeled(num_labeled, num_classes, labeled_seed)
        self.d_labelled = None if d_labelled is None else int(d_labelled)
        self.d_pseudo_weight = float(alpha if d_pseudo_weight is None else d_pseudo_weight)
        self.alpha, self.pseudo_weight = float(alpha), float(pseudo_weight)
        self.pseudo_start, self.pseudo_rampup = int(pseudo_start), int(pseudo_rampup)
        self.entropy_weight, self.balance_weight = float(entropy_weight), float(balance_weight)
        self.pseudo_real = int(pseudo_real)
        self.pretrain_steps, self.pretrain_balance_weight = int(pretrain_steps), float(pretrain_balance_weight)
        self.g_batch = None if g_batch is None else int(g_batch)
        self.anneal_lr_start = None if anneal_lr_start is None else int(anneal_lr_start)
        self.anneal_lr_every, self.anneal_lr_factor = int(anneal_lr_every), float(anneal_lr_factor)
        self.generator = LabelConcatGenerator(latent_dim, num_classes, self.data_shape, g_hidden,
                                              output_norm=g_output_norm)
        self.discriminator = LabelConcatDiscriminator(self.data_shape, num_classes, d_hidden, d_input_noise,
                                                      d_hidden_noise, unit_norm=d_unit_norm)
        self.classifier = TripleClassifier(self.data_shape[0], num_classes, c_width, c_dropout)

    # ------------------------------------------------------------------ declarations
    def conditions(self) -> tuple[Condition, ...]:
        return (Condition("class", "label", self.num_classes),)

    # ------------------------------------------------------------------ networks
    def optimizer_groups(self):
        return {"generator": self.generator.parameters(), "discriminator": self.discriminator.parameters(),
                "classifier": self.classifier.parameters()}

    def configure_optimizers(self):
        """The three optimizers; with ``anneal_lr_start``, one schedule each: the authors' annealing."""
        configured = super().configure_optimizers()
        if self.anneal_lr_start is None:
            return configured
        return self.scheduled(configured, self.lr_factor_at, "anneal_lr_start")

    def lr_factor_at(self, iteration: int) -> float:
        """Every learning rate's factor at a (0-based) iteration: 1 until ``anneal_lr_start`` iterations of the game
        (counted after C's pre-training), then times ``anneal_lr_factor`` every ``anneal_lr_every`` iterations (the
        authors' ``anneal_lr_epoch``, ``anneal_lr_every_epoch`` and ``anneal_lr_factor``, in epochs there)."""
        iteration -= self.pretrain_steps
        if self.anneal_lr_start is None or iteration < self.anneal_lr_start:
            return 1.0
        return self.anneal_lr_factor ** ((iteration - self.anneal_lr_start) // self.anneal_lr_every)

    def generate(self, z, labels=None, net=None, conditions=None):
        if labels is None:
            labels = cycle_labels(z.size(0), self.num_classes, z.device)
        labels = check_labels(labels, self.num_classes, z.size(0), values=not self.in_training_step).to(z.device)
        return (net or self.generator)(z, labels)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """C's class logits, (N, num_classes)."""
        return self.classifier(x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """C's predicted class of each image (eval mode: no dropout, BatchNorm's running statistics)."""
        was_training = self.classifier.training
        self.classifier.eval()
        try:
            return self.classifier(x.to(self.device)).argmax(dim=1)
        finally:
            self.classifier.train(was_training)

    def discriminate(self, x, labels=None):
        """D's logit of the pair (x, labels); without labels, the pair (x, C's prediction)."""
        if labels is None:
            labels = self.classify(x).argmax(dim=1)
        return self.run_discriminator(x, labels)

    def on_train_start(self) -> None:
        self.pick_labeled_at_train_start()

    # ------------------------------------------------------------------ losses
    def pseudo_weight_at(self, iteration: int) -> float:
        """R_P's weight at a (0-based) iteration: 0 before ``pseudo_start`` iterations of the game (counted after
        C's pre-training), then a linear ramp."""
        iteration -= self.pretrain_steps
        if iteration < self.pseudo_start:
            return 0.0
        if self.pseudo_rampup == 0:
            return self.pseudo_weight
        return self.pseudo_weight * min(1.0, (iteration - self.pseudo_start + 1) / self.pseudo_rampup)

    def phases(self) -> list[Phase]:
        start = self.pretrain_steps  # the game begins after C's pre-training
        game = [WindowedPhase("D", "discriminator", self.discriminator_terms, start=start),
                WindowedPhase("G", "generator", self.generator_terms, interval=self.critic_steps, start=start),
                WindowedPhase("C", "classifier", self.classifier_terms, start=start)]
        if not start:
            return game
        return [WindowedPhase("Cpre", "classifier", self.pretrain_terms, loss_key="c_loss", stop=start), *game]

    def prepare_step(self, ctx: StepContext) -> None:
        """Noise, balanced labels and G's samples (``g_batch`` of them, or the batch's size); C's logits of the
        (unlabelled) batch. The batch's own labels are never read. During C's pre-training, C's logits only."""
        if ctx.runs("Cpre"):
            ctx.class_logits = self.classifier(ctx.real)
            return
        samples = self.g_batch or ctx.batch_size  # the authors' batch_size_g (200) is G's own
        ctx.z = self.sample_noise(samples)
        ctx.fake_labels = cycle_labels(samples, self.num_classes, self.device)
        with torch.set_grad_enabled(ctx.runs("G")):
            ctx.fake = self.generator(ctx.z, ctx.fake_labels)
        with torch.set_grad_enabled(ctx.runs("C")):
            ctx.class_logits = self.classifier(ctx.real)
        ctx.pseudo_labels = ctx.class_logits.detach().argmax(dim=1)
        if self.pseudo_real >= ctx.batch_size:
            raise ValueError(f"model.pseudo_real ({self.pseudo_real}) must be below the batch size "
                             f"({ctx.batch_size}): the rest of the batch are C's fake pairs")
        ctx.pseudo = slice(self.pseudo_real, None)  # C's pairs that D takes as fake (the first pseudo_real: real)

    def discriminator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        images, targets = self.labeled_batch(ctx.batch_size)
        if self.d_labelled is not None:  # the authors' batch_size_l_d: max(num_labelled / 100, 1) labelled pairs
            images, targets = images[:self.d_labelled], targets[:self.d_labelled]
        if self.pseudo_real:  # the authors' code: C-labelled pairs of other unlabelled images as real too
            images = torch.cat([images, ctx.real[:self.pseudo_real]])
            targets = torch.cat([targets, ctx.pseudo_labels[:self.pseudo_real]])
        real_logit = self.run_discriminator(images, targets)
        pseudo_logit = self.run_discriminator(ctx.real[ctx.pseudo], ctx.pseudo_labels[ctx.pseudo])
        fake_logit = self.run_discriminator(ctx.fake.detach(), ctx.fake_labels)
        real_loss = F.softplus(-real_logit).mean()
        pseudo_loss, fake_loss = F.softplus(pseudo_logit).mean(), F.softplus(fake_logit).mean()
        return {"d_loss": real_loss + self.d_pseudo_weight * pseudo_loss + (1 - self.alpha) * fake_loss,
                "d_real_loss": real_loss, "d_pseudo_loss": pseudo_loss, "d_fake_loss": fake_loss,
                "d_real": torch.sigmoid(real_logit).mean(), "d_pseudo": torch.sigmoid(pseudo_logit).mean(),
                "d_fake": torch.sigmoid(fake_logit).mean()}

    def generator_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        fake_logit = self.run_discriminator(ctx.fake, ctx.fake_labels)
        return {"g_loss": (1 - self.alpha) * F.softplus(-fake_logit).mean()}

    def unlabelled_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """C's terms without D or G: cross-entropy on a labelled batch, the entropy of its predictions on the
        unlabelled batch and their class balance (CE(mean prediction, uniform))."""
        images, targets = self.labeled_batch(ctx.batch_size)
        labeled_logits = self.classifier(images)
        probs, log_probs = F.softmax(ctx.class_logits, dim=1), F.log_softmax(ctx.class_logits, dim=1)
        return {"c_supervised": F.cross_entropy(labeled_logits, targets),
                "c_entropy": -(probs * log_probs).sum(dim=1).mean(),
                "c_balance": -probs.mean(dim=0).clamp_min(1e-6).log().mean(),
                "acc_labeled": (labeled_logits.argmax(dim=1) == targets).float().mean()}

    def pretrain_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        """C's pre-training (the authors' ``pretrain_cost``): its terms without D or G, the balance weighted
        ``pretrain_balance_weight``."""
        terms = self.unlabelled_terms(ctx)
        loss = (terms["c_supervised"] + self.entropy_weight * terms["c_entropy"]
                + self.pretrain_balance_weight * terms["c_balance"])
        return {"c_loss": loss, **terms}

    def classifier_terms(self, ctx: StepContext) -> dict[str, torch.Tensor]:
        probs = F.softmax(ctx.class_logits, dim=1)
        chosen = probs[ctx.pseudo].gather(1, ctx.pseudo_labels[ctx.pseudo, None]).squeeze(1)
        with torch.no_grad():  # D's judgement of C's pairs: a constant weight for C
            pseudo_cost = F.softplus(-self.run_discriminator(ctx.real[ctx.pseudo], ctx.pseudo_labels[ctx.pseudo]))
        adversarial = (chosen * pseudo_cost).mean()
        terms = self.unlabelled_terms(ctx)
        supervised, entropy, balance = terms["c_supervised"], terms["c_entropy"], terms["c_balance"]
        weight = self.pseudo_weight_at(ctx.iteration)
        if weight > 0:
            with frozen_running_statistics(self.classifier):  # G's samples must not shift C's BatchNorm statistics
                pseudo_discriminative = F.cross_entropy(self.classifier(ctx.fake.detach()), ctx.fake_labels)
        else:
            pseudo_discriminative = supervised.new_zeros(())
        loss = (self.alpha * adversarial + supervised + self.entropy_weight * entropy
                + self.balance_weight * balance + weight * pseudo_discriminative)
        return {"c_loss": loss, "c_adversarial": adversarial, **terms, "c_pseudo": pseudo_discriminative,
                "c_pseudo_weight": supervised.new_full((), weight)}
