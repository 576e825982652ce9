"""Why do GAN-INT-CLS and TAC-GAN draw the asked digit at chance? What their D reads, and two one-switch runs.

The text-to-image sections (``text_to_image_v2``, ``text_to_image_v2_3000``) find every model drawing the
caption's colour but the asked digit at chance, on a caption encoder whose embedding carries the digit (a
linear probe reads it on every held-out caption, section ``stackgan``). G learns what D rewards, so this
benchmark asks what D reads:

1. **D's probes** (the ``text_to_image_v2_3000`` runs' last checkpoints, D in eval mode, the real held-out
   images): the share of images whose D logit with their own caption is above the logit with the same
   caption with one word swapped, the digit word (for the next digit's) or the colour word (for the next
   colour's); 0.5: D does not tell them apart. TAC-GAN's class head, given each real image with another
   image's caption (a seeded shuffle): does its argmax name the image's digit or the caption's?
2. **D's image path as a digit classifier**: the recipe's D (TAC-GAN's, ``class_head`` image, at the
   runs' 32 px) trained on the real training images alone with the class loss (sigmoid cross-entropy,
   the recipe's Adam), beside the judges' digits CNN (``CanvasNet``: max and average pooling) trained on
   the same batches with the same loss and optimiser; held-out accuracy as they train.
3. **Two one-switch runs** of ``--iterations`` (the first sections' 1,000), the recipes otherwise, seed 0,
   measured as ``text_to_image`` measures (``CaptionJudges``, one seeded z per held-out caption):
   TAC-GAN with its class head on the image's features before the text joins them (``class_head: image``,
   AC-GAN's place for it: it cannot read the class from the caption); GAN-INT-CLS whose wrong pairs are,
   half of them, the real image with its caption's digit word swapped (pairs that differ in the digit
   alone; a diagnostic, not the authors' recipe).

4. **D's image path from a digit classifier** (``digit_encoder_model``): GAN-INT-CLS at the recipe's budget with
   D's inputs translated, its D's image path initialised from the race's translated-input classifier (retrained
   with the race's seed, batches and shifts, ``digit_encoder``, saved under ``--checkpoints``), fine-tuned with D
   or frozen; each run's G and D saved there too and probed with each batch's statistics, and the classifier's
   head put on D's trained image path (does D still read the digit?). ``--seeds 0,1`` runs those arms (the ones
   ``--encoder-arms`` names, default both) at more GAN seeds with the same classifier (seed 0's keys and files
   untagged, another seed's tagged ``/seedN``, ``_seedN``); the section shows each cached seed's row, and the
   verdict holds for every seed, stating each one's asked digit.

    python benchmarks/text_to_image_probe.py [--iterations 1000] [--classifier-iterations 600]
        [--checkpoints DIR] [--seeds 0] [--encoder-arms fine-tuned,frozen] [--report-only]

Writes section ``text_to_image_probe`` of benchmarks/RESULTS.md; caches in
``benchmarks/text_to_image_probe/results.json``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import text_to_image as t2i
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    command_block,
    fit_exactly,
    int_list,
    load_line,
    load_recipe,
    load_runs,
    model_from_recipe,
    quiet_lightning,
    replace_section,
    save_runs,
    stack_split,
    training_command,
)

OUT_DIR = BENCHMARKS / "text_to_image_probe"
RESULTS = OUT_DIR / "results.json"
SECTION = "text_to_image_probe"
ENCODER = "caption_encoder_v2"
PROBED = (("GANINTCLS gan-int-cls", "GANINTCLS", "gan-int-cls", 3000), ("TAC-GAN", "TACGAN", None, 3000))
SIZE = 32
EVERY = 150  # the classifier race's held-out evaluations
PLAIN_PATH = "D's image path"
TRANSLATED_PATH = "D's image path, inputs translated"  # the race's third network (the cached 600-iteration race has two)


def swapped(captions, words: tuple[str, ...], seed: int | None = None):
    """``captions`` (token ids) with each of ``words`` replaced by the next one in ``words`` (seed None), or by
    another one drawn per caption (a seeded shift of 1 to len - 1)."""
    import torch

    from gan_lightning.data.captions import VOCABULARY

    ids = torch.tensor([VOCABULARY.index(w) for w in words], device=captions.device)
    hits = captions[..., None] == ids
    which = hits.float().argmax(-1)
    if seed is None:
        shift = torch.ones_like(captions[:, :1])
    else:
        shift = torch.randint(1, len(words), (captions.size(0), 1), generator=torch.Generator().manual_seed(seed))
        shift = shift.to(captions.device)
    return torch.where(hits.any(-1), ids[(which + shift) % len(words)], captions)


def digit_swapped(captions, seed: int | None = None):
    from gan_lightning.data.captions import DIGIT_WORDS

    return swapped(captions, DIGIT_WORDS, seed)


def colour_swapped(captions):
    from gan_lightning.data.captions import COLOURS

    return swapped(captions, tuple(COLOURS))


def d_reads(module, split, mixed: bool = False) -> dict[str, float]:
    """Shares of real held-out images whose D logit with their own caption beats a digit-swapped caption's,
    a colour-swapped caption's, and the next image's with their caption (the wrong pair). ``mixed``: each
    comparison in one batch (own pairs and swapped pairs together), so that a D normalising by batch
    statistics judges both with the same ones; otherwise each kind of pair is a batch of its own."""
    import torch

    images, captions = split["image"], split["caption"]
    n = images.size(0)

    def above(other_images, other_captions) -> float:
        if mixed:
            both = module.judge(torch.cat([images, other_images]), torch.cat([captions, other_captions]))
            own, other = both[:n], both[n:]
        else:
            own, other = module.judge(images, captions), module.judge(other_images, other_captions)
        return float((own > other).float().mean())

    with torch.no_grad():
        return {"digit_word": above(images, digit_swapped(captions)),
                "colour_word": above(images, colour_swapped(captions)),
                "wrong_image": above(images.roll(1, dims=0), captions)}


def batch_statistics(module):
    """A copy of ``module`` (in eval mode) whose D normalises each batch by its own statistics, as D does in
    training (its BatchNorm layers in train mode; no augmentation, no dropout). The probes of D in eval mode
    use the running statistics, which average the real, wrong and fake batches D saw separately in training,
    so they judge with other features than the ones D trained with."""
    import copy

    import torch

    twin = copy.deepcopy(module).eval()
    for layer in twin.discriminator.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.train()
    return twin


def class_head_reads(module, split) -> dict[str, float]:
    """TAC-GAN's class head on real held-out images given shuffled captions: the share naming the image's
    digit, and the share naming the caption's."""
    import torch

    order = torch.randperm(split["caption"].size(0), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        named = module.classify(split["image"], split["caption"][order])
    return {"image_digit": float((named == split["label"]).float().mean()),
            "caption_digit": float((named == split["label"][order]).float().mean())}


def probe_trained(results: dict[str, Any]) -> None:
    split = t2i.held_out(SIZE)
    for name, model, variant, iterations in PROBED:
        key = f"probe/{name}/it{iterations}"
        if "d_mixed" in results.get(key, {}):
            continue
        if not t2i.checkpoint_path(name, SIZE, 0, iterations, iterations, ENCODER).is_file():
            print(f"{key}: no checkpoint (run text_to_image.py --iterations {iterations} first)", flush=True)
            continue
        module, _ = t2i.load_trained(name, model, variant, SIZE, 0, iterations, iterations, ENCODER)
        module.eval()
        twin = batch_statistics(module)
        results[key] = {"d": d_reads(module, split), "d_batch": d_reads(twin, split),
                        "d_mixed": d_reads(twin, split, mixed=True),
                        **({"head": class_head_reads(module, split), "head_batch": class_head_reads(twin, split)}
                           if variant is None else {})}
        save_runs(results, RESULTS)


def race_setup():
    """The classifier race's recipe arguments (TAC-GAN's), its data (set up) and held-out images and labels."""
    args = load_recipe("TACGAN", "captioned_digits")["init_args"]
    data = t2i.captioned_data("TACGAN", SIZE)
    data.setup("fit")
    return args, data, stack_split(data.heldout_set, ["image", "label"])


def train_digit_classifier(net_name: str, iterations: int, args, data, heldout):
    """One network of the classifier race (``PLAIN_PATH``, ``"CanvasNet"`` or ``TRANSLATED_PATH``), seeded 0,
    trained on the real training batches with the class loss and the recipe's Adam; returns the network and its
    held-out accuracy every ``EVERY`` iterations."""
    import torch

    from gan_lightning.augment import DiffAugment
    from gan_lightning.evaluation.captioned import CanvasNet
    from gan_lightning.nets.text import MatchingDiscriminator
    from gan_lightning.pretrained import fit_class_head

    torch.manual_seed(0)
    if net_name == "CanvasNet":
        net = CanvasNet(SIZE, 10)
        classify = net
    else:
        net = MatchingDiscriminator(3, SIZE, 128, args["d_width"], args["text_dim"], num_classes=10,
                                    class_from="image")
        classify = lambda x, net=net: net(x, x.new_zeros(x.size(0), 128))[1]  # no caption read
    augment = DiffAugment(TRANSLATE) if net_name == TRANSLATED_PATH else None
    accuracy = []

    def measure(step: int) -> None:
        net.eval()
        accuracy.append(held_out_accuracy(classify, heldout))
        net.train()

    epochs = (data.train_dataloader() for _ in itertools.count())  # no set_epoch: the race's batches as first run
    fit_class_head(classify, net.parameters(), epochs, iterations, args["lr_d"], tuple(args["betas"]),
                   augment=augment, every=EVERY, on_every=measure)
    return net, accuracy


def held_out_accuracy(classify, heldout) -> float:
    """Held-out digit accuracy of ``classify`` (images -> 10 class logits), in batches of 256."""
    import torch

    with torch.no_grad():
        named = torch.cat([classify(x).argmax(1) for x in heldout["image"].split(256)])
    return float((named == heldout["label"]).float().mean())


def classifier_race(iterations: int) -> dict[str, list[float]]:
    """Held-out digit accuracy every ``EVERY`` iterations of D's image path and of ``CanvasNet``, each trained
    on the same real training batches with the class loss and the recipe's Adam."""
    args, data, heldout = race_setup()
    return {net_name: train_digit_classifier(net_name, iterations, args, data, heldout)[1]
            for net_name in (PLAIN_PATH, "CanvasNet", TRANSLATED_PATH)}


def digit_encoder(iterations: int, checkpoints) -> dict[str, Any]:
    """The race's translated-input classifier (``TRANSLATED_PATH``: the same seed, batches, shifts and
    ``iterations``), its weights saved under ``checkpoints`` and reused: ``{"state": its state dict, "accuracy":
    its held-out curve}``."""
    import torch

    from gan_lightning.data.files import save_atomically

    path = checkpoints / f"digit_encoder_translated_{SIZE}px_it{iterations}.pt"
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True)
    torch.set_num_threads(1)
    args, data, heldout = race_setup()
    cpu = time.process_time()
    net, accuracy = train_digit_classifier(TRANSLATED_PATH, iterations, args, data, heldout)
    saved = {"state": net.state_dict(), "accuracy": accuracy, "cpu_seconds": time.process_time() - cpu}
    print(f"digit encoder: {iterations} iterations, held-out {accuracy[-1]:.3f}", flush=True)
    checkpoints.mkdir(parents=True, exist_ok=True)
    save_atomically(saved, path)
    return saved


def digit_swap_model(recipe, data_shape):
    """GAN-INT-CLS (the recipe) whose wrong pairs are half the next image, half the real image with its caption's
    digit word swapped for another digit's; D's loss real + 0.5 wrong + 0.5 fake as the recipe's."""
    import torch
    import torch.nn.functional as F

    from gan_lightning.models import GANINTCLS

    class DigitSwapWrong(GANINTCLS):
        def prepare_step(self, ctx) -> None:
            super().prepare_step(ctx)
            ctx.digit_swapped = self.embed(digit_swapped(ctx.caption, seed=int(self.global_step)))

        def discriminator_terms(self, ctx):
            bce = F.binary_cross_entropy_with_logits
            real = self.run_discriminator(ctx.real, ctx.embedding)
            fake = self.run_discriminator(ctx.fake, ctx.embedding)
            wrong = self.run_discriminator(ctx.real.roll(1, dims=0), ctx.embedding)
            swap = self.run_discriminator(ctx.real, ctx.digit_swapped)
            wrong_loss = 0.5 * (bce(wrong, torch.zeros_like(wrong)) + bce(swap, torch.zeros_like(swap)))
            real_loss, fake_loss = bce(real, torch.ones_like(real)), bce(fake, torch.zeros_like(fake))
            loss = real_loss + self.cls_weight * wrong_loss + (1.0 - self.cls_weight) * fake_loss
            return {"d_loss": loss, "d_real": real_loss, "d_wrong": wrong_loss, "d_fake": fake_loss}

    return DigitSwapWrong(**{**recipe["init_args"], "text_encoder": t2i.encoder_file(ENCODER),
                             "data_shape": tuple(data_shape)})


def mixed_batch_model(recipe, data_shape, digit_swap: bool = False):
    """GAN-INT-CLS (the recipe) whose D judges its real, wrong and fake pairs in one batch, and G's fakes beside the
    batch's real pairs, so that D's BatchNorm normalises every kind of pair by the same statistics and cannot tell
    them apart by a batch's statistics (a diagnostic, not the authors' recipe: they judge each kind apart).
    ``digit_swap``: the wrong pairs are, half of them, the real image with its caption's digit word swapped (as
    ``digit_swap_model``'s), in the same batch."""
    import torch
    import torch.nn.functional as F

    from gan_lightning.models import GANINTCLS

    class MixedBatchD(GANINTCLS):
        def discriminator_terms(self, ctx):
            bce = F.binary_cross_entropy_with_logits
            pairs = [(ctx.real, ctx.embedding), (ctx.real.roll(1, dims=0), ctx.embedding), (ctx.fake, ctx.embedding)]
            if digit_swap:
                pairs.append((ctx.real, self.embed(digit_swapped(ctx.caption, seed=int(self.global_step)))))
            logits = self.run_discriminator(torch.cat([i for i, _ in pairs]), torch.cat([e for _, e in pairs]))
            real, wrong, fake, *swap = logits.chunk(len(pairs))
            real_loss, fake_loss = bce(real, torch.ones_like(real)), bce(fake, torch.zeros_like(fake))
            wrong_loss = sum(bce(w, torch.zeros_like(w)) for w in (wrong, *swap)) / (1 + len(swap))
            loss = real_loss + self.cls_weight * wrong_loss + (1.0 - self.cls_weight) * fake_loss
            return {"d_loss": loss, "d_real": real_loss, "d_wrong": wrong_loss, "d_fake": fake_loss}

        def run_discriminator(self, x, *args, **kwargs):
            if getattr(self, "_beside", None) is None:
                return super().run_discriminator(x, *args, **kwargs)
            real, embedding = self._beside
            logits = super().run_discriminator(torch.cat([real, x]), torch.cat([embedding, args[0]]), **kwargs)
            return logits[real.size(0):]

        def generator_terms(self, ctx):
            self._beside = (ctx.real, ctx.embedding)  # G's fakes judged in one batch with the real pairs
            try:
                return super().generator_terms(ctx)
            finally:
                self._beside = None

    return MixedBatchD(**{**recipe["init_args"], "text_encoder": t2i.encoder_file(ENCODER),
                          "data_shape": tuple(data_shape)})


def digit_encoder_model(recipe, data_shape, encoder_state, frozen: bool = False):
    """GAN-INT-CLS (the recipe) whose D's image path (``features``: the convolutions to 4 px and the residual
    block) starts from a digit classifier's: ``encoder_state``, a ``MatchingDiscriminator`` state dict (the
    race's translated-input classifier, ``digit_encoder``). ``frozen``: those weights stay as loaded (no
    gradient, not in D's optimizer, their BatchNorm on the classifier's running statistics, so that D's image
    features are the classifier's exactly); only D's text projection, joining layers and logit train. Otherwise
    the image path trains with the rest of D, at D's lr (a diagnostic, not the authors' recipe)."""
    from gan_lightning.models import GANINTCLS

    class DigitEncoderD(GANINTCLS):
        def optimizer_groups(self):
            return {**super().optimizer_groups(),
                    "discriminator": [p for p in self.discriminator.parameters() if p.requires_grad]}

        def train(self, mode: bool = True):
            super().train(mode)
            if frozen:
                self.discriminator.features.eval()
            return self

    module = DigitEncoderD(**{**recipe["init_args"], "text_encoder": t2i.encoder_file(ENCODER),
                              "data_shape": tuple(data_shape)})
    module.discriminator.features.load_state_dict(
        {key.removeprefix("features."): value for key, value in encoder_state.items() if key.startswith("features.")})
    if frozen:
        module.discriminator.features.requires_grad_(False)
    return module.train(module.training)


SWITCHES = {"TAC-GAN, class head on the image": ("TACGAN", {"class_head": "image"}),
            "GAN-INT-CLS, digit-swapped wrong captions": ("GANINTCLS", None)}
BASELINES = {"TAC-GAN, class head on the image": "TAC-GAN",
             "GAN-INT-CLS, digit-swapped wrong captions": "GANINTCLS gan-int-cls"}
# What the classifier race points to: D's inputs (reals and fakes, D and G steps) translated by DiffAugment's
# ``translation`` (Zhao et al. 2020), alone and with each of the switches above, at the recipes' own budgets
# (``max_steps``); single-digit captions name no position, so a shift changes no caption's truth. Per run: the
# model, the without-switch run (``text_to_image_v2_3000``'s) and the model's overrides (None: the digit-swap model;
# "mixed" / "mixed, digit-swapped": ``mixed_batch_model``).
TRANSLATE = "translation"
# D's image path initialised from the race's translated-input classifier (``digit_encoder_model``): the overrides
# name the arm, and whether its image path is frozen.
ENCODED_FINE_TUNED = "GAN-INT-CLS, D's image path from the translated digit classifier, fine-tuned, D inputs translated"
ENCODED_FROZEN = "GAN-INT-CLS, D's image path from the translated digit classifier, frozen, D inputs translated"
# The same set-up through the model's own options (``GANINTCLS(d_image_reader="digits", freeze_d_image_reader=True)``:
# the project's cached digit reader, ``gan_lightning.pretrained.train_digit_reader``), as a user runs it.
OPTION_ARM = "GAN-INT-CLS, the model option d_image_reader: digits, frozen, D inputs translated"
OPTION_OVERRIDES = {"d_image_reader": "digits", "freeze_d_image_reader": True}
# TAC-GAN's claim (its class head makes G draw the caption's class) where D's image path can read the class: the
# same option, the class head on the image (AC-GAN's place), against the GAN-INT-CLS arm above.
TACGAN_OPTION_ARM = "TAC-GAN, class head on the image, the model option d_image_reader: digits, frozen, D inputs translated"
OPTION_ARMS = (OPTION_ARM, TACGAN_OPTION_ARM)
ENCODER_ARMS = {"digit encoder": False, "digit encoder, frozen": True}
ENCODER_SHORT = {"digit encoder": "fine-tuned", "digit encoder, frozen": "frozen"}
# The arms ``--encoder-arms`` may run at ``--seeds`` beyond seed 0, by their short names.
SEEDED_ARMS = {ENCODED_FINE_TUNED: "fine-tuned", ENCODED_FROZEN: "frozen", OPTION_ARM: "option",
               TACGAN_OPTION_ARM: "tacgan-option"}


def is_encoder_arm(overrides) -> bool:
    """Whether a run's overrides (a dict of model options, None or a diagnostic's name) name an ``ENCODER_ARMS`` run."""
    return isinstance(overrides, str) and overrides in ENCODER_ARMS
AUGMENTED = {"GAN-INT-CLS, D inputs translated": ("GANINTCLS", "GANINTCLS gan-int-cls", {}),
             "TAC-GAN, class head on the image, D inputs translated": ("TACGAN", "TAC-GAN", {"class_head": "image"}),
             "GAN-INT-CLS, digit-swapped wrong captions, D inputs translated": ("GANINTCLS", "GANINTCLS gan-int-cls",
                                                                               None),
             "GAN-INT-CLS, D judges mixed batches, D inputs translated": ("GANINTCLS", "GANINTCLS gan-int-cls",
                                                                         "mixed"),
             "GAN-INT-CLS, D judges mixed batches with digit-swapped wrong captions, D inputs translated": (
                 "GANINTCLS", "GANINTCLS gan-int-cls", "mixed, digit-swapped"),
             ENCODED_FINE_TUNED: ("GANINTCLS", "GANINTCLS gan-int-cls", "digit encoder"),
             ENCODED_FROZEN: ("GANINTCLS", "GANINTCLS gan-int-cls", "digit encoder, frozen"),
             OPTION_ARM: ("GANINTCLS", "GANINTCLS gan-int-cls", OPTION_OVERRIDES),
             TACGAN_OPTION_ARM: ("TACGAN", "TAC-GAN", {"class_head": "image", **OPTION_OVERRIDES})}


def switch_run(name: str, iterations: int, encoder_state=None, checkpoints=None, seed: int = 0) -> dict[str, Any]:
    """One run of ``SWITCHES[name]`` or ``AUGMENTED[name]``, measured on the held-out captions. ``seed``: the GAN's
    seed (``torch.manual_seed``: G's and D's initialisation, z, the shifts; the data order is the data module's own
    seed, 0, as in ``text_to_image``), and the held-out z are drawn from ``1000 + seed`` (``text_to_image``'s).
    ``encoder_state``: the digit classifier of the ``ENCODER_ARMS`` runs (the same for every seed);
    ``checkpoints``: a folder where the run saves its G and D (they are also probed with each batch's statistics,
    ``encoder_reads``)."""
    import torch

    from gan_lightning.augment import DiffAugment
    from gan_lightning.data.files import save_atomically
    from gan_lightning.evaluation.captioned import CaptionJudges

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model, overrides = (AUGMENTED[name][0], AUGMENTED[name][2]) if name in AUGMENTED else SWITCHES[name]
    recipe = load_recipe(model, "captioned_digits")
    data = t2i.captioned_data(model, SIZE)
    if overrides is None:
        module = digit_swap_model(recipe, data.data_shape)
    elif overrides in ("mixed", "mixed, digit-swapped"):
        module = mixed_batch_model(recipe, data.data_shape, digit_swap=overrides != "mixed")
    elif is_encoder_arm(overrides):
        module = digit_encoder_model(recipe, data.data_shape, encoder_state, frozen=ENCODER_ARMS[overrides])
    else:
        module = model_from_recipe(model, recipe, data.data_shape, text_encoder=t2i.encoder_file(ENCODER), **overrides)
    if name in AUGMENTED:
        module.set_discriminator_augment(DiffAugment(TRANSLATE))
    cpu = time.process_time()
    fit_exactly(module, data, iterations, label=name)
    cpu = time.process_time() - cpu
    if checkpoints is not None:
        save_atomically({"generator": module.generator.state_dict(), "discriminator": module.discriminator.state_dict(),
                         "cpu_seconds": cpu}, checkpoints / run_file(name, iterations, seed))
    module.eval()
    split = t2i.held_out(SIZE)
    judges = CaptionJudges.load_or_fit(seed=0, image_size=SIZE)
    measured = t2i.scores(judges, t2i.draw(module, split["caption"], seed=1000 + seed), split)
    run = {"iterations": iterations, "seed": seed, "cpu_seconds": cpu, "rows": measured["rows"]["all"],
           "top_digit_share": measured["top_digit_share"], "d": d_reads(module, split)}
    if model == "TACGAN":
        run["head"] = class_head_reads(module, split)
    if is_encoder_arm(overrides):
        run.update(encoder_reads(module, race_classifier(encoder_state), split))
    if isinstance(overrides, dict) and overrides.get("d_image_reader") == "digits":
        from gan_lightning.pretrained import digit_reader

        reader = digit_reader("digits", SIZE, module.d_width)
        run.update(reader_iterations=reader["iterations"], reader_accuracy=reader["heldout_accuracy"])
    return run


def run_file(name: str, iterations: int, seed: int = 0) -> str:
    """The file name of a run's saved G and D; seed 0's has no seed tag (the first runs' names)."""
    return f"{name.replace(' ', '_')}_{SIZE}px_it{iterations}" + (f"_seed{seed}" if seed else "") + ".pt"


def race_classifier(state):
    """The race's class-headed D (TAC-GAN's recipe widths, its head on the image features) with weights ``state``."""
    from gan_lightning.nets.text import MatchingDiscriminator

    args = load_recipe("TACGAN", "captioned_digits")["init_args"]
    net = MatchingDiscriminator(3, SIZE, 128, args["d_width"], args["text_dim"], num_classes=10, class_from="image")
    net.load_state_dict(state)
    return net


def encoder_reads(module, classifier, split) -> dict[str, Any]:
    """A trained D whose image path came from the digit classifier ``classifier`` (a class-headed
    ``MatchingDiscriminator``, its head on the image features): D's probes with each batch's statistics
    (``d_reads``, pairs apart and mixed), and the classifier's head on D's image path before training (the
    classifier's own) and after: held-out digit accuracy with the running and with each batch's statistics."""
    import copy

    def reading(net) -> float:
        return held_out_accuracy(lambda x: net(x, x.new_zeros(x.size(0), net.project[0].in_features))[1], split)

    trained = copy.deepcopy(classifier)
    trained.features.load_state_dict(module.discriminator.features.state_dict())
    batch = copy.deepcopy(trained).train()  # each batch's statistics (of 256 held-out images), no step taken
    twin = batch_statistics(module)
    return {"d_batch": d_reads(twin, split), "d_mixed": d_reads(twin, split, mixed=True),
            "image_path": {"before": reading(copy.deepcopy(classifier).eval()), "after": reading(trained.eval()),
                           "after_batch": reading(batch)}}


def baseline_row(baseline: str, iterations: int) -> dict[str, Any] | None:
    """The recipe ``baseline`` (a ``text_to_image`` run name) without the switch, same budget and seed:
    ``text_to_image``'s run on caption encoder v2."""
    key = f"{t2i.run_key(baseline, SIZE, 0, iterations, ENCODER)}/step{iterations}"
    return load_runs(t2i.RESULTS, empty={}).get(key)


SWITCH_HEADER = ["| run | asked digit | colour | caption accuracy | most frequent digit's share | D: digit word (eval "
                 "mode) | D: colour word (eval mode) | class head: image's / caption's digit (eval mode) | training "
                 "CPU-min |",
                 "|---|---|---|---|---|---|---|---|---|"]


def switch_lines(baseline: str, base: dict[str, Any] | None, name: str, run: dict[str, Any] | None) -> list[str]:
    """The table rows (``SWITCH_HEADER``) of a run without its switch (``text_to_image``'s) and with it."""
    lines = []
    if base:
        rows = base["scores"]["rows"]["all"]
        lines.append(f"| {t2i.LABELS[baseline]} (no switch) | {rows['digit']:.3f} | {rows['colour']:.3f} | "
                     f"{rows['caption_accuracy']:.3f} | {base['scores']['top_digit_share']:.3f} | - | - | - | "
                     f"{base['train_cpu_seconds'] / 60:.1f} |")
    if run:
        head = run.get("head")
        lines.append(f"| {name} | {run['rows']['digit']:.3f} | {run['rows']['colour']:.3f} | "
                     f"{run['rows']['caption_accuracy']:.3f} | {run['top_digit_share']:.3f} | "
                     f"{run['d']['digit_word']:.3f} | {run['d']['colour_word']:.3f} | "
                     + (f"{head['image_digit']:.3f} / {head['caption_digit']:.3f}" if head else "-")
                     + f" | {run['cpu_seconds'] / 60:.1f} |")
    return lines


def augmented_report(results: dict[str, Any], args) -> list[str]:
    """The translated-D runs against the recipes' runs at the same (the recipes') budget, with the race's
    translated row, and their verdict."""
    runs = [(name, results.get(augmented_key(name))) for name in AUGMENTED]
    if not any(run for _, run in runs):
        return []
    lines = ["**D's inputs translated** (what the race points to: DiffAugment's `translation`, shifts of up to 4 px "
             "at 32 px with zero padding, on every D input, reals and fakes, in D's and G's steps; a single-digit "
             "caption names no position, so a shift changes no caption's truth), alone, with each switch above "
             "(the D then can read the digit, and is asked to), and with a D that judges its real, wrong and fake "
             "pairs in one batch and G's fakes beside the real pairs (no batch-statistics cue: the probes above), "
             "and with D's image path starting from a digit classifier (below), at "
             "the recipes' own budgets (`max_steps`), seed 0; "
             "the no-switch rows are section `text_to_image_v2_3000`'s runs. These runs' D columns are the eval-mode "
             "probes (the rows above show how far those can differ from D's reading with each batch's statistics; "
             "the digit-classifier runs keep their checkpoints, and are probed with them below)."]
    race = results.get(f"race/it{args.classifier_iterations}") or {}
    if TRANSLATED_PATH in race:
        lines[0] += (f" In the race above, the same D's image path on translated inputs reaches "
                     f"{race[TRANSLATED_PATH][-1]:.3f} held-out after {args.classifier_iterations} iterations, "
                     f"against {race[PLAIN_PATH][-1]:.3f} untranslated.")
    if any(seed for name in AUGMENTED for seed, _ in seeded_runs(results, name)):
        lines[0] += " A row naming a GAN seed is its run seeded otherwise (the other rows: seed 0)."
    lines += ["", *SWITCH_HEADER]
    shown = set()  # each no-switch row once
    for name, run in runs:
        baseline = AUGMENTED[name][1]
        base = None if baseline in shown else baseline_row(baseline, augmented_budget(name))
        shown.add(baseline)
        lines += switch_lines(baseline, base, name, run)
        for seed, other in seeded_runs(results, name):
            if seed:
                lines += switch_lines(baseline, None, seed_label(name, seed), other)
    lifted = [f"{name} {run['rows']['digit']:.3f}" for name, run in runs if run and run["rows"]["digit"] >= t2i.CHANCE_BAND
              and not is_encoder_arm(AUGMENTED[name][2]) and name not in OPTION_ARMS]  # verdicts of their own
    lines += ["", "Verdict on translating D's inputs (the digit-classifier runs apart): " + (
        f"**it lifts the asked digit above chance** ({', '.join(lifted)}; chance band {t2i.CHANCE_BAND}): a D whose "
        "image features generalise over position reads the digit, and G follows." if lifted else
        f"**it does not lift the asked digit above chance** (below {t2i.CHANCE_BAND}) at the recipes' budget."), ""]
    option_runs = [run for _, run in seeded_runs(results, OPTION_ARM)]
    tacgan_runs = [run for _, run in seeded_runs(results, TACGAN_OPTION_ARM)]
    frozen = results.get(augmented_key(ENCODED_FROZEN))
    if option_runs:
        option = option_runs[0]
        digit = seeds_mean(option_runs, "digit")
        lines += [f"The model option (`GANINTCLS(d_image_reader=\"digits\", freeze_d_image_reader=True)` with "
                  "`DiffAugmentCallback(policy=\"translation\")`, `experiments/ganintcls/"
                  "captioned_digits_digit_reader.yaml` at 32 px: the project's own digit reader, "
                  f"`gan_lightning.pretrained.train_digit_reader`, {option.get('reader_iterations', '?')} iterations, "
                  f"held-out digit accuracy {option.get('reader_accuracy', float('nan')):.3f}): the asked digit "
                  f"{seeds_text(option_runs, 'digit')}"
                  + (f", against {frozen['rows']['digit']:.3f} for the diagnostic's frozen arm (its own classifier)"
                     if frozen else "")
                  + (" — **above chance**" if digit >= t2i.CHANCE_BAND else " — **at chance**")
                  + f" (chance band {t2i.CHANCE_BAND}).", ""]
    if option_runs and tacgan_runs:
        frozen_seeds = [run["rows"]["digit"] for _, run in seeded_runs(results, ENCODED_FROZEN)]
        spread = max(seed_range(frozen_seeds), seed_range([run["rows"]["digit"] for run in option_runs]),
                     seed_range([run["rows"]["digit"] for run in tacgan_runs]))
        difference = seeds_mean(tacgan_runs, "digit") - seeds_mean(option_runs, "digit")
        word = ("above" if difference > spread else "below" if difference < -spread else "level with")
        one_each = len(option_runs) == len(tacgan_runs) == 1
        lines += [f"TAC-GAN with the same option and its class head on the image (where it must read the digit from "
                  f"D's frozen digit reader): the asked digit {seeds_text(tacgan_runs, 'digit')} against GAN-INT-CLS's "
                  f"{seeds_text(option_runs, 'digit')} with the option, "
                  + ("one seed each" if one_each else f"{len(tacgan_runs)} and {len(option_runs)} seeds")
                  + f": **{word}** it (the seed-to-seed "
                  + ("spread of the diagnostic's frozen arm" if one_each else
                     "spread, the largest of the frozen arm's and these two arms'")
                  + f": {spread:.3f}); colour {seeds_text(tacgan_runs, 'colour')} against "
                  f"{seeds_text(option_runs, 'colour')}.", ""]
    return lines


def encoder_options(name: str, args) -> dict[str, Any]:
    """``switch_run``'s options for ``AUGMENTED[name]``: the digit classifier (``digit_encoder``, the race's
    iterations) and the checkpoint folder for the ``ENCODER_ARMS`` runs, none for the others."""
    if not is_encoder_arm(AUGMENTED[name][2]):
        return {}
    return {"encoder_state": digit_encoder(args.classifier_iterations, args.checkpoints)["state"],
            "checkpoints": args.checkpoints}


def run_seeds(name: str, args) -> tuple[int, ...]:
    """The seeds ``AUGMENTED[name]`` runs at: seed 0, and for the arms named in ``--encoder-arms`` (``SEEDED_ARMS``)
    the ``--seeds``."""
    if SEEDED_ARMS.get(name) not in args.encoder_arms:
        return (0,)
    return tuple(dict.fromkeys((0, *args.seeds)))


def encoder_report(results: dict[str, Any], args) -> list[str]:
    """The runs whose D's image path starts from the race's translated-input classifier (``ENCODER_ARMS``), at
    each cached GAN seed: the classifier's head on D's image path before and after, D's probes with each kind of
    BatchNorm statistics, and their verdict, which holds for every seed (it states each seed's asked digit)."""
    arms = [(name, [(seed, run) for seed, run in seeded_runs(results, name) if "image_path" in run])
            for name in AUGMENTED if is_encoder_arm(AUGMENTED[name][2])]
    arms = [(name, runs) for name, runs in arms if runs]
    if not arms:
        return []
    race = (results.get(f"race/it{args.classifier_iterations}") or {}).get(TRANSLATED_PATH)
    lines = [f"**D's image path from a digit classifier** (a diagnostic): GAN-INT-CLS (the recipe, D inputs "
             "translated as above) whose D's image path (its convolutions to 4 px and residual block) starts from "
             f"the race's translated-input classifier, trained again for {args.classifier_iterations} iterations "
             "with the race's seed, batches and shifts"
             + (f" (its held-out curve is the race's row, {race[-1]:.3f} at the end)" if race else "")
             + " and saved: **fine-tuned** with the rest of D at D's lr, or **frozen** (its weights and BatchNorm "
             "statistics stay the classifier's; only D's text projection, joining layers and logit train). Their "
             "judges' rows are in the table above. The classifier's head put on D's image path reads the digit of "
             "the 1,057 real held-out images (before: the classifier itself; after: D's trained image path, with "
             "the running or each batch's statistics); D's probes as in the first table (own caption above the "
             "digit-swapped / colour-swapped caption / the wrong image), with running statistics, each batch's with "
             "pairs apart, and each batch's with pairs mixed.", "",
             ("| run | asked digit | image path reads the digit: before / after / after (each batch's) | "
              "D: digit word (running / apart / mixed) | D: colour word (running / apart / mixed) | "
              "D: wrong image (running / apart / mixed) | training CPU-min |"),
             "|---|---|---|---|---|---|---|"]
    if any(len(runs) > 1 for _, runs in arms):
        lines[0] += (" A row naming a GAN seed is its arm with the same classifier and the GAN seeded otherwise (G's "
                     "and D's initialisation, z, the shifts; the data order and the held-out captions the same).")
    for name, runs in arms:
        for seed, run in runs:
            path = run["image_path"]
            probes = [" / ".join(f"{run[k][word]:.3f}" for k in ("d", "d_batch", "d_mixed"))
                      for word in ("digit_word", "colour_word", "wrong_image")]
            lines.append(f"| {seed_label(name, seed)} | {run['rows']['digit']:.3f} | {path['before']:.3f} / "
                         f"{path['after']:.3f} / {path['after_batch']:.3f} | " + " | ".join(probes)
                         + f" | {run['cpu_seconds'] / 60:.1f} |")
    one_seed = all(len(runs) == 1 for _, runs in arms)
    short = {name: ENCODER_SHORT[AUGMENTED[name][2]] for name, _ in arms}

    def per_seed(runs, value) -> str:
        """``value(run)`` of one run, or each seed's: "seed 0 0.557, seed 1 0.412"."""
        if len(runs) == 1:
            return f"{value(runs[0][1]):.3f}"
        return ", ".join(f"seed {seed} {value(run):.3f}" for seed, run in runs)

    def split(test) -> tuple[list[str], list[str]]:
        """The arms for which ``test(run)`` holds on every seed, and those for which it holds on some only."""
        every = [name for name, runs in arms if all(test(run) for _, run in runs)]
        some = [name for name, runs in arms if name not in every and any(test(run) for _, run in runs)]
        return every, some

    def named(names) -> str:
        runs = dict(arms)
        if one_seed:
            return " and ".join(short[name] for name in names)
        return " and ".join(f"{short[name]} (" + ("seed " if len(runs[name]) == 1 else "seeds ")
                            + " and ".join(str(seed) for seed, _ in runs[name]) + ")" for name in names)

    recipe = (results.get(f"probe/{PROBED[0][0]}/it{PROBED[0][3]}") or {}).get("d_mixed")
    if one_seed:
        facts = "; ".join(f"{short[name]}: asked digit {runs[0][1]['rows']['digit']:.3f}, D's own caption above the "
                          f"digit-swapped one {runs[0][1]['d_mixed']['digit_word']:.3f} with pairs mixed, the "
                          f"classifier's head on D's trained image path {runs[0][1]['image_path']['after']:.3f}"
                          for name, runs in arms)
    else:
        facts = ". ".join(f"{short[name].capitalize()}: the asked digit {per_seed(runs, lambda r: r['rows']['digit'])}; "
                          "D's own caption above the digit-swapped one with pairs mixed "
                          f"{per_seed(runs, lambda r: r['d_mixed']['digit_word'])}; the classifier's head on D's "
                          f"trained image path {per_seed(runs, lambda r: r['image_path']['after'])}"
                          for name, runs in arms)
    lifted, lifted_some = split(lambda run: run["rows"]["digit"] >= t2i.CHANCE_BAND)
    reading, reading_some = split(lambda run: run["d_mixed"]["digit_word"] >= 0.6)
    seeds = "; one seed" if one_seed else ""
    if lifted:
        verdict = (f"**a digit-reading image path lifts the asked digit above chance** ({named(lifted)}; chance band "
                   f"{t2i.CHANCE_BAND}{seeds}" + (f"; on some seeds only: {named(lifted_some)}" if lifted_some else "")
                   + "). ")
    elif lifted_some:
        verdict = (f"**a digit-reading image path lifts the asked digit above chance on some seeds only** "
                   f"({named(lifted_some)}; chance band {t2i.CHANCE_BAND}). ")
    else:
        verdict = f"**a digit-reading image path does not lift the asked digit above chance** (below {t2i.CHANCE_BAND}). "
    verdict += facts[0].upper() + facts[1:]
    verdict += (f" (the recipe's D, judged the same way: {recipe['digit_word']:.3f}). " if recipe else ". ")
    if reading or reading_some:
        verdict += ("D tells one image's own caption from its digit-swapped caption in a mixed batch ("
                    + "; ".join(filter(None, [named(reading),
                                              f"on some seeds only: {named(reading_some)}" if reading_some else ""]))
                    + "): it matches each image's digit with the caption's")
    else:
        verdict += ("D does not tell one image's own caption from its digit-swapped caption in a mixed batch (below "
                    "0.6; 0.5: blind): its text-joining layers do not match the digit the image features carry with "
                    "the caption's")
    verdict += (", and G follows." if lifted and not lifted_some else
                ", and G follows on some seeds only." if lifted or lifted_some else
                ", yet G does not follow at this budget." if reading or reading_some else ", so G is not asked for it.")
    base = baseline_row(PROBED[0][0], PROBED[0][3])
    if base:
        colours = ("; " if not one_seed else ", ").join(
            f"{short[name]} {per_seed(runs, lambda r: r['rows']['colour'])}" for name, runs in arms)
        verdict += (f" The caption's colour, drawn on {base['scores']['rows']['all']['colour']:.3f} by the recipe's "
                    f"run, on {colours}; its asked digit {base['scores']['rows']['all']['digit']:.3f}.")
    return [*lines, "", "Verdict on D's image path from a digit classifier: " + verdict, ""]


def augmented_budget(name: str) -> int:
    """The recipe's own ``max_steps`` for ``AUGMENTED[name]``."""
    return load_recipe(AUGMENTED[name][0], "captioned_digits")["max_steps"]


def seeds_mean(runs: list[dict[str, Any]], row: str) -> float:
    """The mean of a judges' row (``digit``, ``colour``) over an arm's seeds."""
    return sum(run["rows"][row] for run in runs) / len(runs)


def seeds_text(runs: list[dict[str, Any]], row: str) -> str:
    """A judges' row over an arm's seeds: the one seed's value, or the mean with each seed's in brackets."""
    if len(runs) == 1:
        return f"{runs[0]['rows'][row]:.3f}"
    return f"{seeds_mean(runs, row):.3f} (seeds: " + ", ".join(f"{run['rows'][row]:.3f}" for run in runs) + ")"


def seed_range(values: list[float]) -> float:
    """Largest minus smallest of per-seed values (0 for one seed)."""
    return max(values) - min(values) if len(values) > 1 else 0.0


def augmented_key(name: str, seed: int = 0) -> str:
    """A translated-D run's cache key; seed 0's has no seed tag (the first runs' keys)."""
    return f"augmented/{name}/it{augmented_budget(name)}" + (f"/seed{seed}" if seed else "")


def seeded_runs(results: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
    """``AUGMENTED[name]``'s cached runs, ``(seed, run)`` by seed: seed 0's key, then any ``/seedN`` keys."""
    prefix = augmented_key(name) + "/seed"
    seeds = sorted(int(key.removeprefix(prefix)) for key in results
                   if key.startswith(prefix) and key.removeprefix(prefix).isdigit())
    return [(seed, results[augmented_key(name, seed)]) for seed in (0, *seeds) if results.get(augmented_key(name, seed))]


def seed_label(name: str, seed: int) -> str:
    """A table row's run name: seed 0's is the run's name (the first rows'), another seed's names it."""
    return name if seed == 0 else f"{name}, GAN seed {seed}"


# ----------------------------------------------------------------------------- report
def report(results: dict[str, Any], args, command: str) -> str:
    lines = [
        "Why GAN-INT-CLS and TAC-GAN draw the asked digit at chance (sections `text_to_image_v2`, "
        "`text_to_image_v2_3000`): what their D reads, one-switch runs, and runs whose D sees translated inputs. "
        "CaptionedDigits at 32 px, caption "
        "encoder v2 (its embedding carries the digit: section `stackgan`), seed 0, one thread.", ""]
    probes = [(name, results.get(f"probe/{name}/it{it}")) for name, _, _, it in PROBED]
    if any(p for _, p in probes):
        lines += ["**What D reads** (the 3,000-iteration runs of `text_to_image_v2_3000`, 1,057 real held-out images): "
                  "the share of images whose D logit with their own caption is above the logit with one word of the "
                  "caption swapped (0.5: D does not tell them apart), or above the next image's with the same caption "
                  "(the recipe's wrong pair). D's BatchNorm layers normalise either by the **running** statistics (eval "
                  "mode, averaged over the real, wrong and fake batches D saw apart in training) or by **each batch's** "
                  "own, as D judges during training, either with each kind of pair a batch of its own (own-caption "
                  "pairs apart from swapped ones, as D sees real, wrong and fake pairs in training) or **mixed** "
                  "(own and swapped pairs in one batch: the same statistics for both, so only each image's own "
                  "features can tell them apart).", "",
                  "| model | BatchNorm statistics | own caption above: digit word swapped | colour word swapped | "
                  "wrong image |", "|---|---|---|---|---|"]
        for name, probe in probes:
            for mode, key in (("running (eval mode)", "d"), ("each batch's, pairs apart (as in training)", "d_batch"),
                              ("each batch's, pairs mixed", "d_mixed")):
                if probe and key in probe:
                    d = probe[key]
                    lines.append(f"| {t2i.LABELS[name]} | {mode} | {d['digit_word']:.3f} | {d['colour_word']:.3f} | "
                                 f"{d['wrong_image']:.3f} |")
        lines.append("")
        lines += batch_cue_lines(probes)
        head = dict(probes).get("TAC-GAN")
        if head and "head" in head:
            lines += [f"TAC-GAN's class head (the authors' place: D's joint image-text map), given each real held-out "
                      f"image with another image's caption: it names the caption's digit on "
                      f"{head['head']['caption_digit']:.3f} of them and the image's on {head['head']['image_digit']:.3f}"
                      + (f" (with each batch's statistics: {head['head_batch']['caption_digit']:.3f} and "
                         f"{head['head_batch']['image_digit']:.3f})" if "head_batch" in head else "")
                      + ": it reads the class from the caption embedding, so its class loss asks little of G's image.", ""]
    race = results.get(f"race/it{args.classifier_iterations}")
    if race:
        steps = [EVERY * (k + 1) for k in range(len(next(iter(race.values()))))]
        lines += [f"**D's image path as a digit classifier**: TAC-GAN's recipe D (widths {load_recipe('TACGAN', 'captioned_digits')['init_args']['d_width']}, "
                  "its class head on the image features) trained on the real training images alone with the class "
                  "loss and the recipe's Adam, beside the judges' digits CNN (`CanvasNet`, pooled) trained on the same "
                  "batches with the same loss and optimiser; held-out digit accuracy (chance 0.1; the judges' own, "
                  "trained longer with more scenes: 0.981).", "",
                  "| network | " + " | ".join(f"iteration {s}" for s in steps) + " |",
                  "|---|" + "---|" * len(steps)]
        for net_name, accuracy in race.items():
            lines.append(f"| {net_name} | " + " | ".join(f"{a:.3f}" for a in accuracy) + " |")
        lines.append("")
    switched = [(name, results.get(f"switch/{name}/it{args.iterations}")) for name in SWITCHES]
    if any(run for _, run in switched):
        lines += [f"**One switch, {args.iterations} iterations** (the recipes otherwise, as section `text_to_image_v2` "
                  "trains them; the without-switch row is that section's run): the judges' asked digit and colour "
                  "over all 1,057 held-out captions, the share of the most frequent judged digit, and D's probes "
                  "(above).", ""]
        lines += SWITCH_HEADER
        for name, run in switched:
            lines += switch_lines(BASELINES[name], baseline_row(BASELINES[name], args.iterations), name, run)
        lines.append("")
        lifted = [name for name, run in switched if run and run["rows"]["digit"] >= t2i.CHANCE_BAND]
        lines += [("Verdict on the switches: " + (f"**the switch lifts the asked digit above chance** ({', '.join(lifted)}): "
                                                  "its D reads the digit, and G follows." if lifted else
                                                  f"**neither switch lifts the asked digit above chance** (below "
                                                  f"{t2i.CHANCE_BAND}) at this budget: a D that cannot read the digit from "
                                                  "the caption, or that is asked to tell digit-swapped captions apart, does "
                                                  "not learn to read it from the image.")), ""]
    lines += augmented_report(results, args)
    lines += encoder_report(results, args)
    lines += tacgan_verdict(results, args)
    lines += [load_line(), ""]
    lines += command_block(command)
    return "\n".join(lines).rstrip() + "\n"


def batch_cue_lines(probes) -> list[str]:
    """The sentence on a D that tells digit-swapped pairs apart only when they come as a batch of their own (by
    0.2 or more above the mixed batch, which is within 0.1 of blind): a cue in the batch's statistics, not in
    each image."""
    cued = [(name, probe) for name, probe in probes if probe and "d_mixed" in probe
            and probe["d_batch"]["digit_word"] - probe["d_mixed"]["digit_word"] >= 0.2
            and abs(probe["d_mixed"]["digit_word"] - 0.5) <= 0.1]
    if not cued:
        return []
    shares = "; ".join(f"{t2i.LABELS[name]} {probe['d_batch']['digit_word']:.3f} apart, "
                       f"{probe['d_mixed']['digit_word']:.3f} mixed" for name, probe in cued)
    return [f"With each batch's statistics, D tells a batch of digit-swapped pairs from a batch of own-caption pairs, "
            f"but not one pair from the other in the same batch ({shares}): the digit reaches D through the "
            "batch's statistics (BatchNorm over a batch of one kind of pair), not through each image's features. "
            "G's fakes also come to D as a batch of their own, so the digit signal G gets may be a batch's, which "
            "does not ask each image for its digit (not tested here).", ""]


def tacgan_verdict(results: dict[str, Any], args) -> list[str]:
    """TAC-GAN's claim (its class head makes G draw the caption's class): why it is not reached, when the probes,
    the classifier race and the image-head run are all in."""
    probe = results.get("probe/TAC-GAN/it3000")
    race = results.get(f"race/it{args.classifier_iterations}")
    run = results.get(f"switch/TAC-GAN, class head on the image/it{args.iterations}")
    if not (probe and race and run):
        return []
    head, d_path, canvas = probe.get("head_batch", probe["head"]), race[PLAIN_PATH][-1], race["CanvasNet"][-1]
    shown = head["caption_digit"] > 2 * head["image_digit"] and d_path < canvas
    word = "**cause shown**" if shown else "**not reached**, no cause shown"
    return [f"TAC-GAN: verdict {word}: with the authors' joint head, the class head names the caption's digit on "
            f"{head['caption_digit']:.3f} of real images given other captions and the image's on "
            f"{head['image_digit']:.3f}" + (" (each batch's BatchNorm statistics, as D judges in training)"
                                            if "head_batch" in probe else "")
            + ", so its class loss asks little of G's image; moved to the image, the head "
            f"names the image's digit on {run['head']['image_digit']:.3f} after {args.iterations} iterations and G draws "
            f"the asked digit on {run['rows']['digit']:.3f}: D's image path learns the digit slowly (held-out "
            f"{d_path:.3f} after {args.classifier_iterations} iterations of plain classification, the judges' CNN "
            f"{canvas:.3f} on the same batches).", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000, help="the one-switch runs' iterations")
    parser.add_argument("--classifier-iterations", type=int, default=600,
                        help="the classifier race's iterations (held-out accuracy every 150)")
    parser.add_argument("--checkpoints", type=Path, default=t2i.CHECKPOINTS,
                        help="where the digit classifier of the pretrained-encoder runs and their G and D are saved")
    parser.add_argument("--seeds", type=int_list, default=(0,),
                        help="the GAN seeds of the digit-classifier runs (the same classifier; the other runs: seed 0)")
    parser.add_argument("--encoder-arms", type=lambda text: tuple(part.strip() for part in text.split(",")),
                        default=tuple(ENCODER_SHORT.values()),
                        help="which arms run at --seeds other than 0: fine-tuned, frozen (the digit-classifier arms, "
                             "the default), option, tacgan-option (the model option's arms)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    unknown = [arm for arm in args.encoder_arms if arm not in SEEDED_ARMS.values()]
    if unknown:
        parser.error(f"--encoder-arms: {unknown[0]!r} is not an arm; accepted: {', '.join(SEEDED_ARMS.values())}")
    quiet_lightning()
    import torch

    torch.set_num_threads(1)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = load_runs(RESULTS, empty={})
    if not args.report_only:
        probe_trained(results)
        jobs = [(f"switch/{name}/it{args.iterations}", lambda name=name: switch_run(name, args.iterations))
                for name in SWITCHES]
        jobs += [(f"race/it{args.classifier_iterations}", lambda: classifier_race(args.classifier_iterations))]
        jobs += [(augmented_key(name, seed), lambda name=name, seed=seed: switch_run(
                     name, augmented_budget(name), seed=seed, **encoder_options(name, args)))
                 for name in AUGMENTED for seed in run_seeds(name, args)]
        for key, job in jobs:
            if key not in results:
                results[key] = job()
                save_runs(results, RESULTS)
                print(f"{key}: done", flush=True)
    text = report(results, args, training_command(__file__))
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
