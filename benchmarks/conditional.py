"""The measured properties of the conditional, latent-structured and encoder GANs (issue 5).

Each model is trained on MNIST5k (32 px, batch 64: the ``data`` section of its recipe) with the
``init_args`` of its committed recipe ``experiments/<model>/mnist5k.yaml`` (read by
``harness.load_recipe``), seed 0, for the recipe's ``max_steps`` unless the budget below
says otherwise, with the recipe's generator EMA (decay 0.999; sampling uses it, as
``gan-lightning sample`` does). Then one number per claim of its paper:

- CGAN, ACGAN: 1,000 samples (100 per class, ``sample(labels=...)``), the ``digits`` classifier
  (``gan_lightning.evaluation.load_digits_classifier``) agrees with the asked label on what share;
  ACGAN also: the auxiliary classifier's accuracy on the held-out real digits.
- InfoGAN: the Q head's categorical code of the held-out real digits, each code value mapped to
  its majority digit: cluster purity (and how many digits some code maps to); latent-traversal
  grids (``InfoGAN.traversal_grid``, the code path of ``gan-lightning sample --traverse``).
- SemiSupervisedGAN: held-out accuracy of D as a classifier (100 labels, 10 per class, the
  model's stratified pick from the training split) vs the same network, same initial weights,
  trained on those 100 labels alone with the same optimiser, learning rate, labelled batch
  size and number of iterations (the supervised baseline).
- AAE: 2-D codes of the held-out digits by class (PNG), their mean / std against the N(0, I)
  prior, reconstruction grid and held-out reconstruction MSE.
- VAEGAN: reconstruction and sample grids, held-out learned-similarity loss
  (0.5 ||Dis_l(x) - Dis_l(x~)||^2 on D's last hidden layer) and reconstruction MSE.
- BiGAN: 5-NN digit accuracy on the held-out split with encoder features of the training
  split as the memory, trained encoder vs the same encoder at its initial (random) weights;
  reconstruction grid G(E(x)).
- CoGAN: 1,000 pairs (G_A(z), G_B(z)); the digits classifier's agreement between A and the
  un-inverted B (-B), against the agreement of A and -B from *independent* noise (chance level).

Everything runs single-threaded (``torch.set_num_threads(1)``), models one after the other.

    python benchmarks/conditional.py [--models CGAN,ACGAN] [--steps N] [--out benchmarks/RESULTS.md]

Writes the Markdown section ``conditional`` of ``--out`` (``harness.replace_section``) and the
images in ``benchmarks/conditional/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gan_lightning.core import build_optimizer
from harness import (BENCHMARKS, KNN_K, RESULTS_MD, build_mnist5k, cluster_purity, command_line, fit_exactly,
                     in_batches, infogan_codes, knn_predictions, load_average, load_recipe, paired_comparison,
                     quiet_lightning, replace_section, save_grid, shown_path, split_tensors, supervised_step)
MODELS = ("CGAN", "ACGAN", "InfoGAN", "SemiSupervisedGAN", "AAE", "VAEGAN", "BiGAN", "CoGAN")
PAPERS = {
    "CGAN": "Mirza & Osindero 2014",
    "ACGAN": "Odena et al. 2017",
    "InfoGAN": "Chen et al. 2016",
    "SemiSupervisedGAN": "Salimans et al. 2016",
    "AAE": "Makhzani et al. 2015",
    "VAEGAN": "Larsen et al. 2016",
    "BiGAN": "Donahue et al. 2016; Dumoulin et al. 2016",
    "CoGAN": "Liu & Tuzel 2016",
}
# Iterations per model when --steps is not given: the recipe's max_steps, except where this
# says otherwise. Per-iteration costs measured on the shared 2-core machine (1 thread, batch 64,
# 32 px): CGAN/ACGAN/InfoGAN/AAE about 0.13 s, SemiSupervisedGAN (MLPs) 0.12 s, CoGAN 0.23 s,
# VAEGAN 0.39 s, BiGAN 0.38 s. Recipes now train CGAN/ACGAN/InfoGAN 4,000 iterations and
# SemiSupervisedGAN/BiGAN 3,000, so a default run takes over an hour; ``--models`` runs a subset.
DEFAULT_STEPS_FOR: dict[str, int] = {}
NUM_PER_CLASS = 100  # CGAN / ACGAN: 100 samples per class, 1,000 in all
NUM_PAIRS = 1000  # CoGAN
EVAL_SEED = 1234
OUT_SECTION = "conditional"  # default section of --out, see benchmarks/harness.py
DEFAULT_TITLE = "Conditional, latent-structured and encoder GANs (issue 5)"


# ----------------------------------------------------------------------------- training
def build(model: str, kind: str = "mnist5k", **overrides):
    """(model, data module) from the recipe's ``init_args``; ``overrides`` replace model arguments."""
    return build_mnist5k(model, kind, **overrides)


def default_steps(model: str, steps: int | None = None) -> int:
    if steps is not None:
        return steps
    return DEFAULT_STEPS_FOR.get(model, load_recipe(model, "mnist5k")["max_steps"])


def train(model_name: str, steps: int, seed: int = 0, ema: bool = True, **overrides) -> dict[str, Any]:
    """Train ``model_name`` from its recipe for ``steps`` iterations; returns model, data, initial
    weights (CPU copy of the state dict before training) and the fit time."""
    import lightning as L

    quiet_lightning()
    L.seed_everything(seed, workers=False, verbose=False)
    model, datamodule = build(model_name, **overrides)
    initial_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    callbacks = []
    if ema:
        from gan_lightning.callbacks import EMACallback

        callbacks.append(EMACallback(decay=0.999))
    seconds = fit_exactly(model, datamodule, steps, callbacks, model_name)
    model.eval()
    return {"model": model, "data": datamodule, "initial_state": initial_state, "fit_seconds": seconds,
            "steps": steps, "seed": seed}


# ----------------------------------------------------------------------------- helpers
def digit_predictions(images: torch.Tensor) -> torch.Tensor:
    from gan_lightning.evaluation import load_digits_classifier

    classifier = load_digits_classifier()
    return in_batches(classifier, images).argmax(dim=1)


def interleave(first: torch.Tensor, second: torch.Tensor, per_row: int) -> torch.Tensor:
    """Rows alternating ``per_row`` images of ``first`` and of ``second`` (originals over reconstructions)."""
    rows = []
    for start in range(0, first.size(0), per_row):
        rows += [first[start: start + per_row], second[start: start + per_row]]
    return torch.cat(rows)


def spread_over_classes(labels: torch.Tensor, per_class: int = 4, num_classes: int = 10) -> torch.Tensor:
    """Indices of the first ``per_class`` examples of each class, class by class (the held-out split
    is sorted by class: its first 40 digits are all zeros)."""
    return torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(num_classes)])


def paired_row(what: str, comparison: dict[str, Any]) -> tuple[str, str]:
    return (f"{what}: digits only the first / only the second gets right, exact McNemar p",
            f"{comparison['first_only']} / {comparison['second_only']}, p = {comparison['p_value']:.2g}")


# ----------------------------------------------------------------------------- measurements
def measure_label_agreement(run: dict[str, Any], images_dir: Path) -> dict[str, Any]:
    """CGAN / ACGAN: the digits classifier vs the asked label, 100 samples per class (EMA and raw G)."""
    model = run["model"]
    labels = torch.arange(model.num_classes).repeat_interleave(NUM_PER_CLASS)
    result = {}
    for which, use_ema in (("ema", True), ("raw", False)):
        generator = torch.Generator().manual_seed(EVAL_SEED)
        samples = torch.cat([model.sample(250, labels=labels[s: s + 250], use_ema=use_ema, rng=generator)
                             for s in range(0, len(labels), 250)])
        agree = digit_predictions(samples) == labels
        result[f"label_agreement_{which}"] = float(agree.float().mean())
        result[f"worst_class_{which}"] = min(
            (float(agree[labels == c].float().mean()), c) for c in range(model.num_classes))
        if use_ema:  # one row per class, the first 10 samples of each
            picks = torch.cat([samples[labels == c][:10] for c in range(model.num_classes)])
            result["grid"] = save_grid(picks, images_dir / f"{type(model).__name__.lower()}_by_class.png", 10)
    if hasattr(model, "classify"):  # ACGAN's auxiliary classifier on held-out reals
        images, targets = split_tensors(run["data"], "heldout")
        predictions = in_batches(model.classify, images).argmax(dim=1)
        result["aux_acc_heldout"] = float((predictions == targets).float().mean())
        result["num_heldout"] = len(targets)
    rows = [("digits classifier agrees with the asked label (1,000 samples, EMA G)",
             f"{100 * result['label_agreement_ema']:.1f}%"),
            ("same, raw G", f"{100 * result['label_agreement_raw']:.1f}%"),
            ("worst class (EMA G)", f"digit {result['worst_class_ema'][1]}: {100 * result['worst_class_ema'][0]:.0f}%")]
    if "aux_acc_heldout" in result:
        rows.append((f"auxiliary classifier accuracy, {result['num_heldout']} held-out real digits",
                     f"{100 * result['aux_acc_heldout']:.1f}%"))
    result["rows"] = rows
    return result


def measure_infogan(run: dict[str, Any], images_dir: Path) -> dict[str, Any]:
    model = run["model"]
    images, labels = split_tensors(run["data"], "heldout")
    purity = cluster_purity(infogan_codes(model, images), labels, model.categorical_dim)
    grids = {}
    for code in range(model.continuous_dim):
        grid = model.traversal_grid(None, code, steps=10, rng=torch.Generator().manual_seed(EVAL_SEED))
        grids[code] = save_grid(grid, images_dir / f"infogan_traverse_c{code}.png", 10)
    return {**purity, "num_heldout": len(labels), "grids": grids,
            "rows": [(f"cluster purity of the categorical code, {len(labels)} held-out digits",
                      f"{100 * purity['purity']:.1f}%"),
                     ("digits that are some code value's majority (of 10)", str(purity["digits_covered"]))]}


def supervised_baseline(run: dict[str, Any]) -> torch.Tensor:
    """The SemiSupervisedGAN's D network, from the same initial weights (after the same
    data-dependent initialisation), trained on the model's
    100 labelled images alone: same optimiser, rate, labelled batch size and iterations.
    Returns which held-out digits it classifies correctly (a bool tensor)."""
    import lightning as L

    trained = run["model"]
    L.seed_everything(run["seed"], workers=False, verbose=False)
    baseline, _ = build("SemiSupervisedGAN")
    baseline.load_state_dict(run["initial_state"])
    if baseline.data_init:  # the same data-dependent initialisation as the GAN's D got at its start
        baseline.initialise_from_data(run["data"].train_set)
    classifier = baseline.discriminator.train()
    torch.manual_seed(run["seed"])
    optimizer = build_optimizer(classifier.parameters(), baseline.base_settings("discriminator"))
    images, targets = trained.labeled_images.cpu(), trained.labeled_targets.cpu()
    batch = min(run["data"].batch_size, trained.num_labeled)  # discriminator_loss's labelled batch
    with torch.enable_grad():  # measurements run under no_grad
        for _ in range(run["steps"]):
            supervised_step(classifier, optimizer, images, targets, batch)
    classifier.eval()
    held_images, held_labels = split_tensors(run["data"], "heldout")
    return in_batches(classifier, held_images).argmax(dim=1) == held_labels


def measure_ssgan(run: dict[str, Any], images_dir: Path) -> dict[str, Any]:
    model = run["model"]
    images, labels = split_tensors(run["data"], "heldout")
    gan_correct = in_batches(model.classify, images).argmax(dim=1) == labels
    gan_accuracy = float(gan_correct.float().mean())
    per_class = torch.bincount(model.labeled_targets.cpu(), minlength=model.num_classes).tolist()
    baseline_correct = supervised_baseline(run)
    baseline = float(baseline_correct.float().mean())
    paired = paired_comparison(gan_correct, baseline_correct)
    return {"gan_accuracy": gan_accuracy, "baseline_accuracy": baseline, "labels_per_class": per_class,
            "num_heldout": len(labels), "paired": paired,
            "rows": [(f"held-out accuracy of D as classifier, {model.num_labeled} labels ({per_class[0]}/class), "
                      f"{len(labels)} held-out digits", f"{100 * gan_accuracy:.1f}%"),
                     ("same network on the 100 labels alone (same optimiser, iterations)", f"{100 * baseline:.1f}%"),
                     paired_row("GAN's D vs labels alone", paired)]}


def measure_aae(run: dict[str, Any], images_dir: Path) -> dict[str, Any]:
    from gan_lightning.callbacks import save_latent_scatter

    model = run["model"]
    images, labels = split_tensors(run["data"], "heldout")
    codes = in_batches(model.encode, images)
    recon = in_batches(model.reconstruct, images)
    mse = float(F.mse_loss(recon, images))
    result = {"recon_mse": mse, "code_mean": codes.mean(0).tolist(), "code_std": codes.std(0).tolist(),
              "num_heldout": len(labels)}
    if codes.size(1) == 2:
        result["scatter"] = shown_path(save_latent_scatter(codes, labels, images_dir / "aae_latents.png",
                                                           title="AAE codes of held-out digits"))
    shown = spread_over_classes(labels)
    result["recon_grid"] = save_grid(interleave(images[shown], recon[shown], 10), images_dir / "aae_reconstructions.png", 10)
    mean, std = result["code_mean"], result["code_std"]
    result["rows"] = [(f"held-out reconstruction MSE (images in [-1, 1], {len(labels)} digits)", f"{mse:.4f}"),
                      ("codes' mean / std per dimension (prior: 0 / 1)",
                       ", ".join(f"{m:+.2f} / {s:.2f}" for m, s in zip(mean, std)))]
    return result


def measure_vaegan(run: dict[str, Any], images_dir: Path) -> dict[str, Any]:
    model = run["model"]
    images, labels = split_tensors(run["data"], "heldout")
    recon = in_batches(model.reconstruct, images)
    mse = float(F.mse_loss(recon, images))
    with torch.no_grad():
        similarity = float(sum(model.similarity_loss(images[s: s + 250], recon[s: s + 250]) * len(images[s: s + 250])
                               for s in range(0, len(images), 250)) / len(images))
        # the same loss for a reconstruction that ignores its input (another held-out digit): a scale
        shuffled = recon[torch.randperm(len(images), generator=torch.Generator().manual_seed(EVAL_SEED))]
        mismatched = float(sum(model.similarity_loss(images[s: s + 250], shuffled[s: s + 250]) * len(images[s: s + 250])
                               for s in range(0, len(images), 250)) / len(images))
    samples = model.sample(64, rng=torch.Generator().manual_seed(EVAL_SEED))
    shown = spread_over_classes(labels)
    return {"recon_mse": mse, "similarity_loss": similarity, "similarity_loss_mismatched": mismatched,
            "recon_grid": save_grid(interleave(images[shown], recon[shown], 10), images_dir / "vaegan_reconstructions.png", 10),
            "samples_grid": save_grid(samples, images_dir / "vaegan_samples.png", 8),
            "rows": [(f"held-out learned-similarity loss 0.5·‖Dis_l(x) − Dis_l(x̃)‖² ({len(labels)} digits)",
                      f"{similarity:.3g}"),
                     ("same, x̃ the reconstruction of another digit (reference)", f"{mismatched:.3g}"),
                     ("held-out reconstruction MSE (images in [-1, 1])", f"{mse:.4f}")]}


def measure_bigan(run: dict[str, Any], images_dir: Path) -> dict[str, Any]:
    import copy

    model = run["model"]
    train_images, train_labels = split_tensors(run["data"], "train")
    held_images, held_labels = split_tensors(run["data"], "heldout")
    random_encoder = copy.deepcopy(model.encoder)
    random_encoder.load_state_dict({key[len("encoder."):]: value for key, value in run["initial_state"].items()
                                    if key.startswith("encoder.")})
    random_encoder.eval()
    def body(encoder):  # E's last convolutional features, before its code layer (the paper's ImageNet protocol)
        return lambda x: encoder.net.features(x).flatten(1)

    correct, loo = {}, {}
    for which, encoder in (("trained", model.encoder), ("random", random_encoder), ("pixels", torch.nn.Flatten()),
                           ("trained_body", body(model.encoder)), ("random_body", body(random_encoder))):
        train_features = in_batches(encoder, train_images)
        correct[which] = knn_predictions(train_features, train_labels, in_batches(encoder, held_images)) == held_labels
        # Leave-one-out over the training digits: 9x more queries for the paired test (the
        # encoder saw these images, never their labels).
        loo[which] = knn_predictions(train_features, train_labels, None) == train_labels
    accuracy = {which: float(right.float().mean()) for which, right in correct.items()}
    loo_accuracy = {which: float(right.float().mean()) for which, right in loo.items()}
    paired = paired_comparison(correct["trained"], correct["random"])
    loo_paired = paired_comparison(loo["trained"], loo["random"])
    body_paired = paired_comparison(loo["trained_body"], loo["random_body"])
    recon = in_batches(model.reconstruct, held_images)
    shown = spread_over_classes(held_labels)
    return {"knn_trained": accuracy["trained"], "knn_random": accuracy["random"], "knn_pixels": accuracy["pixels"],
            "paired": paired, "loo_trained": loo_accuracy["trained"], "loo_random": loo_accuracy["random"],
            "loo_paired": loo_paired, "knn_body": {"trained": accuracy["trained_body"], "random": accuracy["random_body"]},
            "loo_body": {"trained": loo_accuracy["trained_body"], "random": loo_accuracy["random_body"]},
            "body_paired": body_paired, "recon_mse": float(F.mse_loss(recon, held_images)),
            "recon_grid": save_grid(interleave(held_images[shown], recon[shown], 10),
                                    images_dir / "bigan_reconstructions.png", 10),
            "rows": [(f"{KNN_K}-NN accuracy on E(x), {len(held_labels)} held-out vs {len(train_labels)} training digits",
                      f"{100 * accuracy['trained']:.1f}%"),
                     ("same, E at its random initial weights", f"{100 * accuracy['random']:.1f}%"),
                     paired_row("trained vs random E", paired),
                     ("same, raw pixels (reference)", f"{100 * accuracy['pixels']:.1f}%"),
                     (f"{KNN_K}-NN leave-one-out over the {len(train_labels)} training digits: trained / random E / pixels",
                      f"{100 * loo_accuracy['trained']:.1f}% / {100 * loo_accuracy['random']:.1f}% / "
                      f"{100 * loo_accuracy['pixels']:.1f}%"),
                     paired_row("leave-one-out, trained vs random E", loo_paired),
                     ("E's last conv features (before the code layer), trained / random E: held-out; leave-one-out",
                      f"{100 * accuracy['trained_body']:.1f}% / {100 * accuracy['random_body']:.1f}%; "
                      f"{100 * loo_accuracy['trained_body']:.1f}% / {100 * loo_accuracy['random_body']:.1f}%"),
                     paired_row("leave-one-out on conv features, trained vs random E", body_paired),
                     ("held-out MSE of G(E(x)) (images in [-1, 1])", f"{float(F.mse_loss(recon, held_images)):.4f}")]}


def measure_cogan(run: dict[str, Any], images_dir: Path) -> dict[str, Any]:
    model = run["model"]
    generator = torch.Generator().manual_seed(EVAL_SEED)
    first_a, first_b = model.sample_pairs(NUM_PAIRS, rng=generator)
    other_a, other_b = model.sample_pairs(NUM_PAIRS, rng=generator)
    pred_a = digit_predictions(first_a)
    pred_b = digit_predictions(model.to_domain_b(first_b))  # -B: back to domain A's look
    pred_other_b = digit_predictions(model.to_domain_b(other_b))
    same = float((pred_a == pred_b).float().mean())
    independent = float((pred_a == pred_other_b).float().mean())
    pixel_gap = float((first_a - model.to_domain_b(first_b)).abs().mean())
    grid = save_grid(interleave(first_a[:40], first_b[:40], 10), images_dir / "cogan_pairs.png", 10)
    return {"agreement_same_noise": same, "agreement_independent": independent, "pixel_gap": pixel_gap,
            "pairs_grid": grid,
            "rows": [(f"digits classifier: same digit in A and un-inverted B, {NUM_PAIRS} same-noise pairs",
                      f"{100 * same:.1f}%"),
                     ("same, A and B from independent noise (chance level)", f"{100 * independent:.1f}%"),
                     ("mean absolute pixel difference of A and −B, same noise (images in [-1, 1])", f"{pixel_gap:.3f}")]}


MEASURES = {"CGAN": measure_label_agreement, "ACGAN": measure_label_agreement, "InfoGAN": measure_infogan,
            "SemiSupervisedGAN": measure_ssgan, "AAE": measure_aae, "VAEGAN": measure_vaegan,
            "BiGAN": measure_bigan, "CoGAN": measure_cogan}


def run_model(name: str, steps: int | None = None, images_dir: Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Train ``name`` (recipe, ``steps`` or its default budget) and measure its property."""
    images_dir = Path(images_dir or BENCHMARKS / "conditional")
    images_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run = train(name, default_steps(name, steps), seed=seed)
    with torch.no_grad():
        measured = MEASURES[name](run, images_dir)
    return {"model": name, "steps": run["steps"], "recipe_steps": load_recipe(name, "mnist5k")["max_steps"],
            "fit_seconds": run["fit_seconds"], "seconds": time.perf_counter() - started, **measured}


# ----------------------------------------------------------------------------- report
def _recipe_summary(name: str) -> str:
    args = load_recipe(name, "mnist5k")["init_args"]
    keys = [k for k in ("optimizer", "lr_g", "lr_d", "lr_e", "latent_dim", "noise_dim", "num_labeled", "gamma")
            if k in args]
    return f"`experiments/{name.lower()}/mnist5k.yaml` (" + ", ".join(f"{k} {args[k]}" for k in keys) + ")"


def markdown_table(results: list[dict[str, Any]]) -> str:
    lines = ["| Model | Paper | Recipe | Iterations (recipe) | Measured property | Number |",
             "|---|---|---|---:|---|---:|"]
    for result in results:
        name = result["model"]
        for i, (what, number) in enumerate(result["rows"]):
            head = ([name, PAPERS[name], _recipe_summary(name), f"{result['steps']} ({result['recipe_steps']})"]
                    if i == 0 else ["", "", "", ""])
            lines.append("| " + " | ".join(head + [what, number]) + " |")
    return "\n".join(lines)


def images_list(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        paths = [value for key, value in result.items() if key.endswith(("grid", "scatter")) and isinstance(value, str)]
        paths += list(result.get("grids", {}).values())
        if paths:
            lines.append(f"- {result['model']}: " + ", ".join(f"[{Path(p).name}]({Path(p).relative_to('benchmarks')})"
                                                           if p.startswith("benchmarks/") else p for p in paths))
    return "\n".join(lines) or "- none: these models' measurements are numbers only"


def report_text(results: list[dict[str, Any]], command: str, wall_seconds: float, load: tuple[float, float],
                title: str = DEFAULT_TITLE) -> str:
    budgets = ", ".join(f"{r['model']} {r['steps']}" for r in results)
    fits = ", ".join(f"{r['model']} {r['fit_seconds']:.0f}" for r in results)
    cgan = [r for r in results if r["model"] in ("CGAN", "ACGAN")]
    verdict = "".join(
        f"\n- {r['model']}: the issue asks for >= 90% agreement; measured {100 * r['label_agreement_ema']:.1f}% "
        f"(EMA G) / {100 * r['label_agreement_raw']:.1f}% (raw G): "
        f"{'reached' if max(r['label_agreement_ema'], r['label_agreement_raw']) >= 0.9 else 'NOT reached at this budget'}."
        for r in cgan)
    return f"""## {title}

Written by `benchmarks/conditional.py`; do not edit by hand. Command (from the repository root):

```sh
{command}
```

- Data: MNIST5k (5,000 real MNIST digits, 32 px, batch 64), its seeded stratified split: 4,500
  training digits, 500 held-out digits (never trained on; every "held-out" number uses them).
- Training: each model's committed recipe (`init_args` of `experiments/<model>/mnist5k.yaml`), seed 0,
  generator EMA 0.999 as in the recipes (samples come from the EMA generator unless a row says raw G).
  Iterations (batches) per model: {budgets}; the number in brackets in the table is the recipe's
  `max_steps`{"" if all(r["steps"] == r["recipe_steps"] for r in results) else " (where the two differ: --steps in the command, or DEFAULT_STEPS_FOR)"}.
- Machine: {platform.platform()}, {os.cpu_count()} CPUs shared with other jobs, torch {torch.__version__},
  1 thread, one model at a time. Fit seconds: {fits}. Wall time of the whole run: **{wall_seconds / 60:.1f} min**
  (load average at start {load[0]:.1f}, at end {load[1]:.1f}).
- Digit judgements use the `digits` classifier (`gan_lightning.metrics.load_digits_classifier`, a LeNet
  trained on MNIST5k, cached); the same classifier scores every model.{verdict}

{markdown_table(results)}

Images:

{images_list(results)}
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model class names")
    parser.add_argument("--steps", type=int, default=None,
                        help="iterations for every model (default: the recipe's max_steps, see DEFAULT_STEPS_FOR)")
    parser.add_argument("--out", type=Path, default=RESULTS_MD,
                        help="Markdown file whose 'conditional' section is rewritten")
    parser.add_argument("--images", type=Path, default=BENCHMARKS / "conditional",
                        help="folder of the images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--section", default=OUT_SECTION,
                        help=f"section of --out to (re)write (default {OUT_SECTION}); another name keeps the "
                             "default run's table, e.g. for a longer --steps run of a few models")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="heading of the section")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(MODELS)}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    command = command_line(__file__, argv)
    load_start = load_average()[0]
    started = time.perf_counter()
    results = []
    for name in args.models:
        result = run_model(name, args.steps, args.images, args.seed)
        results.append(result)
        print(f"{name:18s} {result['steps']:5d} it  fit {result['fit_seconds']:6.1f}s  "
              + "; ".join(f"{what}: {number}" for what, number in result["rows"]), flush=True)
    load_end = load_average()[0]
    text = report_text(results, command, time.perf_counter() - started, (load_start, load_end), args.title)
    replace_section(args.out, args.section, text)
    print(text)
    print(f"wrote section '{args.section}' of {args.out}")


if __name__ == "__main__":
    main()
