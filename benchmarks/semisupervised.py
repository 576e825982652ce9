"""Semi-supervised models on MNIST5k (issue 16): Triple-GAN's classifier and ss-InfoGAN's codes.

Rows, all on MNIST5k (32 px, batch 64, its 4,500 training / 500 held-out split), seed 0, one
thread, each model from its committed recipe (``experiments/<model>/<file>.yaml``, read by
``harness.load_recipe``) for the iterations given below (a CPU-sized budget):

- TripleGAN (100 labels, 10 per class, the model's stratified pick): held-out accuracy of its
  classifier C (``predict``), against
  (a) the same C network from the same initial weights trained on the 100 labels alone (same
      optimiser settings, labelled batch size and iterations: ``classifier_alone``),
  (b) the same, also with C's non-adversarial terms on unlabelled training batches (the entropy
      and class-balance terms of the authors' code: what Triple-GAN adds beyond them is the GAN),
  (c) SemiSupervisedGAN's D as a classifier (its recipe, 100 labels, the same iterations).
  Paired test: the exact McNemar test on the same 500 held-out digits
  (``harness.paired_comparison``).
- SSInfoGAN at 0.22 %, 1 % and 10 % labels, and plain InfoGAN: the categorical code Q reads from
  the held-out digits, each code value mapped to its majority digit (cluster purity,
  ``harness.cluster_purity``), McNemar against InfoGAN on the same digits (correct = the
  code's majority digit is the label); for ss-InfoGAN also the share whose code *is* the label
  (code k = digit k, no mapping). A sample grid per ss-InfoGAN run: row k is code k.

Every model is trained with ``harness.fit_exactly`` on one shared, already loaded MNIST5k
(each run its own data module and sampler), without EMA (raw G; the grids use it).

    python benchmarks/semisupervised.py [--triple-steps N] [--info-steps N] [--report-only]
    python benchmarks/semisupervised.py --triple-steps 3000 --c-width 32 --diagnostic pseudo_real=32  # one change
    python benchmarks/semisupervised.py --triple-steps 3000 --c-width 32 --triple-seeds 1,2  # more seeds
    python benchmarks/semisupervised.py --triple-steps 3000 --c-width 32 --curve 9000 --every 750  # a longer run
    python benchmarks/semisupervised.py --triple-steps 3000 --c-width 32 --d-probe 1500 --every 100  # what D does

``--diagnostic KEY=VALUE[,KEY=VALUE]`` trains Triple-GAN alone with those model options (or the data's
``batch_size``) changed (values read as YAML) at ``--triple-steps``, ``--c-width`` and ``--seed``; its C's held-out
accuracy is kept in the results under ``triple_diagnostics`` and listed in the section below the Triple-GAN table. ``--triple-seeds 1,2`` runs the
Triple-GAN part's four rows on more seeds (kept under ``triple_seeds``), listed with the verdict over the seeds.
``--curve STEPS`` trains Triple-GAN (its recipe, with ``--diagnostic``'s changes when given) past ``--triple-steps`` to
STEPS iterations, R_P from 30 % of ``--triple-steps`` as the part's runs, measuring C's held-out accuracy and the
share of G's samples the digits classifier reads as the asked class every ``--every`` iterations (kept under
``triple_curves`` as they are measured; an interrupted curve resumes from its last checkpoint). ``--d-probe STEPS``
trains Triple-GAN (the recipe, or with ``--diagnostic``'s changes) STEPS iterations and reads its D every ``--every``:
its scores on held-out digits with their own and with another label and on G's samples (eval mode), and on the
training step's pairs (kept under ``triple_probes``).

Writes the section ``semisupervised`` of ``--out`` (``harness.replace_section``), the raw numbers
to ``benchmarks/semisupervised/results.json`` and the grids to ``benchmarks/semisupervised/``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    cached_curve,
    cluster_purity,
    command_line,
    fit_exactly,
    fit_measured,
    in_batches,
    infogan_codes,
    int_list,
    kept_checkpoints,
    load_average,
    load_recipe,
    load_runs,
    mnist5k_data,
    model_from_recipe,
    paired_comparison,
    quiet_lightning,
    replace_section,
    save_grid,
    save_run,
    save_runs,
    split_tensors,
    supervised_step,
)

from gan_lightning.core import build_optimizer

OUT_DIR = BENCHMARKS / "semisupervised"
RESULTS_JSON = OUT_DIR / "results.json"
CURVE_RUNS = OUT_DIR / "curves"  # the --curve runs' checkpoints (not committed)
SECTION = "semisupervised"
INFO_RUNS = {"InfoGAN": ("InfoGAN", "mnist5k"), "SSInfoGAN 0.22%": ("SSInfoGAN", "mnist5k_0p22"),
             "SSInfoGAN 1%": ("SSInfoGAN", "mnist5k_1"), "SSInfoGAN 10%": ("SSInfoGAN", "mnist5k_10")}
PUBLISHED = ("PUBLISHED: Li et al. 2017, Table 1: Triple-GAN 0.91 % +- 0.58 error on MNIST with 100 labels "
             "(60,000 training digits, 1,000 epochs); Improved-GAN (Salimans et al. 2016) 0.93 % +- 0.065 there.")


# ----------------------------------------------------------------------------- data and training
_DATA: dict[str, Any] = {}


def shared_data():
    """A fresh MNIST5k data module on the datasets loaded once (loading takes ~15 s)."""
    module = mnist5k_data("TripleGAN")
    if "sets" not in _DATA:
        _DATA["sets"] = module.build_datasets()
    module.train_set, module.heldout_set = _DATA["sets"]
    return module


DATA_OPTIONS = ("batch_size",)  # --diagnostic / --curve keys that change the data module, not the model


def build(model: str, kind: str, **overrides):
    """``(model, data)``: the recipe's model with ``overrides``, those in ``DATA_OPTIONS`` set on the data."""
    data = shared_data()
    for key in DATA_OPTIONS:
        if key in overrides:
            setattr(data, key, int(overrides.pop(key)))
    return model_from_recipe(model, load_recipe(model, kind), data.data_shape, **overrides), data


def train(model: str, kind: str, steps: int, seed: int, **overrides) -> dict[str, Any]:
    import lightning as L

    quiet_lightning()
    L.seed_everything(seed, workers=False, verbose=False)
    net, data = build(model, kind, **overrides)
    initial = {key: value.detach().clone() for key, value in net.state_dict().items()}
    seconds = fit_exactly(net, data, steps, [], model)
    net.eval()
    return {"model": net, "data": data, "initial_state": initial, "fit_seconds": seconds}


def heldout():
    return split_tensors(shared_data(), "heldout")


# ----------------------------------------------------------------------------- Triple-GAN rows
def classifier_baseline(run: dict[str, Any], steps: int, seed: int, unlabelled_terms: bool) -> tuple[torch.Tensor, float]:
    """Triple-GAN's C from the same initial weights, trained on the labelled subset alone (and, with
    ``unlabelled_terms``, C's entropy and balance terms on random unlabelled training batches).
    Returns which held-out digits it gets right, and the training seconds."""
    import lightning as L

    trained = run["model"]
    L.seed_everything(seed, workers=False, verbose=False)
    baseline, data = build("TripleGAN", "mnist5k", c_width=trained.classifier.head.in_features // 4)
    baseline.load_state_dict(run["initial_state"])
    classifier = baseline.classifier.train()
    optimizer = build_optimizer(classifier.parameters(), baseline.optimizer_settings("classifier"))
    images, targets = trained.labeled_images.cpu(), trained.labeled_targets.cpu()
    train_images, _ = split_tensors(data, "train")
    batch = min(data.batch_size, trained.num_labeled)
    started = time.perf_counter()
    with torch.enable_grad():
        for _ in range(steps):
            if not unlabelled_terms:
                supervised_step(classifier, optimizer, images, targets, batch)
                continue
            pick = torch.randperm(images.size(0))[:batch]
            unlabelled = train_images[torch.randint(0, train_images.size(0), (data.batch_size,))]
            probs = F.softmax(classifier(unlabelled), dim=1)
            entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1).mean()
            balance = -probs.mean(0).clamp_min(1e-6).log().mean()
            loss = (F.cross_entropy(classifier(images[pick]), targets[pick]) + trained.entropy_weight * entropy
                    + trained.balance_weight * balance)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    classifier.eval()
    held_images, held_labels = heldout()
    return in_batches(classifier, held_images).argmax(dim=1) == held_labels, seconds


def class_grid(model, name: str) -> str:
    """``OUT_DIR / name``: raw G's samples, row k ten of class (or code) k, the same noise for every run; its path."""
    labels = torch.arange(10).repeat_interleave(10)
    samples = model.sample(100, labels=labels, use_ema=False, rng=torch.Generator().manual_seed(1234))
    return save_grid(samples, OUT_DIR / name, 10)


def grid_name(kind: str, changes: dict[str, Any], seed: int) -> str:
    """``triplegan_<kind>_<key><value>..._seed<seed>.png``: the file of a diagnostic's or curve's grid."""
    return f"triplegan_{kind}_{'_'.join(f'{key}{value}' for key, value in changes.items())}_seed{seed}.png"


def judged_classes(model, per_class: int = 100) -> float:
    """The share of G's samples (``per_class`` of each class, the same noise for every run) that the digits
    classifier (an independent judge trained on MNIST5k's labels, not the model's C) reads as the asked class."""
    from gan_lightning.evaluation import load_digits_classifier, to_digit_images

    labels = torch.arange(10).repeat_interleave(per_class)
    samples = model.sample(len(labels), labels=labels, use_ema=False, rng=torch.Generator().manual_seed(4321))
    judge = load_digits_classifier()
    read = in_batches(lambda images: judge(to_digit_images(images)).argmax(dim=1), samples)
    return float((read == labels).float().mean())


def run_triple(steps: int, seed: int, c_width: int) -> dict[str, Any]:
    pseudo_start = round(0.3 * steps)  # the recipe's 30 % of training (the authors' epoch 300 of 1,000)
    run = train("TripleGAN", "mnist5k", steps, seed, c_width=c_width, pseudo_start=pseudo_start)
    model = run["model"]
    held_images, held_labels = heldout()
    triple = in_batches(model.predict, held_images) == held_labels
    alone, alone_seconds = classifier_baseline(run, steps, seed, unlabelled_terms=False)
    alone_terms, terms_seconds = classifier_baseline(run, steps, seed, unlabelled_terms=True)
    ssgan_run = train("SemiSupervisedGAN", "mnist5k", steps, seed)
    ssgan = in_batches(ssgan_run["model"].classify, held_images).argmax(dim=1) == held_labels
    grid = class_grid(model, "triplegan_by_class.png" if seed == 0 else f"triplegan_by_class_seed{seed}.png")
    correct = {"triplegan": triple, "classifier_alone": alone, "classifier_entropy": alone_terms, "ssgan": ssgan}
    return {"steps": steps, "seed": seed, "c_width": c_width, "pseudo_start": pseudo_start,
            "pseudo_real": model.pseudo_real, "options": triple_options(c_width, pseudo_start),
            "num_labeled": model.num_labeled, "num_heldout": len(held_labels),
            "accuracy": {k: float(v.float().mean()) for k, v in correct.items()},
            "paired": {k: paired_comparison(triple, v) for k, v in correct.items() if k != "triplegan"},
            "seconds": {"triplegan": run["fit_seconds"], "classifier_alone": alone_seconds,
                        "classifier_entropy": terms_seconds, "ssgan": ssgan_run["fit_seconds"]},
            "grid": grid}


# ----------------------------------------------------------------------------- ss-InfoGAN rows
def run_info(steps: int, seed: int) -> dict[str, Any]:
    """The InfoGAN and ss-InfoGAN rows. Each finished row is kept in ``info_rows_<steps>_<seed>.pt``
    (its row and which held-out digits it got right), so an interrupted run resumes at the next row."""
    held_images, held_labels = heldout()
    partial_path = OUT_DIR / f"info_rows_{steps}_{seed}.pt"
    partial = torch.load(partial_path) if partial_path.is_file() else {"rows": {}, "correct": {}}
    rows, correct = partial["rows"], partial["correct"]
    for name, (model_name, kind) in INFO_RUNS.items():
        if name in rows:
            print(f"{name}: cached in {partial_path}", flush=True)
            continue
        run = train(model_name, kind, steps, seed)
        model = run["model"]
        codes = infogan_codes(model, held_images)
        purity = cluster_purity(codes, held_labels, model.categorical_dim)
        mapped = torch.tensor([purity["mapping"].get(int(c), -1) for c in codes])
        correct[name] = mapped == held_labels
        row = {"purity": purity["purity"], "digits_covered": purity["digits_covered"],
               "fit_seconds": run["fit_seconds"], "num_labeled": getattr(model, "num_labeled", 0)}
        if model_name == "SSInfoGAN":
            row["code_is_label"] = float((codes == held_labels).float().mean())
            row["grid"] = class_grid(model, f"ssinfogan_{kind.split('_')[1]}_by_code.png")
        rows[name] = row
        torch.save(partial, partial_path.with_suffix(".tmp"))
        partial_path.with_suffix(".tmp").replace(partial_path)
        print(f"{name}: purity {row['purity']:.3f} in {row['fit_seconds']:.0f} s", flush=True)
    partial_path.unlink()
    for name in rows:
        if name != "InfoGAN":
            rows[name]["paired_vs_infogan"] = paired_comparison(correct[name], correct["InfoGAN"])
    return {"steps": steps, "seed": seed, "num_heldout": len(held_labels), "rows": rows}


# ----------------------------------------------------------------------------- SemiSupervisedAAE rows
def encoder_alone(run: dict[str, Any], steps: int, seed: int) -> tuple[torch.Tensor, float]:
    """SemiSupervisedAAE's encoder from the same initial weights, its y head trained on the labelled
    subset alone (the model's ``classifier`` optimiser settings, its labelled batch, the same iterations).
    Returns which held-out digits it gets right, and the training seconds."""
    import lightning as L

    trained = run["model"]
    L.seed_everything(seed, workers=False, verbose=False)
    baseline, data = build("SemiSupervisedAAE", "mnist5k")
    baseline.load_state_dict(run["initial_state"])
    baseline.encoder.train()
    optimizer = build_optimizer(baseline.encoder.parameters(), baseline.optimizer_settings("classifier"))
    images, targets = trained.labeled_images.cpu(), trained.labeled_targets.cpu()
    batch = min(data.batch_size, trained.num_labeled)  # as SemiSupervisedAAE.supervised_terms draws it
    started = time.perf_counter()
    with torch.enable_grad():
        for _ in range(steps):
            supervised_step(baseline.classify, optimizer, images, targets, batch)
    seconds = time.perf_counter() - started
    baseline.encoder.eval()
    held_images, held_labels = heldout()
    return in_batches(baseline.classify, held_images).argmax(dim=1) == held_labels, seconds


def run_ssaae_seed(steps: int, seed: int) -> dict[str, Any]:
    """One seed of the SemiSupervisedAAE row: its encoder's y head against the same encoder alone."""
    run = train("SemiSupervisedAAE", "mnist5k", steps, seed)
    model = run["model"]
    held_images, held_labels = heldout()
    ssaae = in_batches(model.classify, held_images).argmax(dim=1) == held_labels
    alone, alone_seconds = encoder_alone(run, steps, seed)
    grid = class_grid(model, f"ssaae_by_class_seed{seed}.png")
    return {"seed": seed, "num_labeled": model.num_labeled, "num_heldout": len(held_labels),
            "accuracy": {"ssaae": float(ssaae.float().mean()), "encoder_alone": float(alone.float().mean())},
            "paired": paired_comparison(ssaae, alone),
            "seconds": {"ssaae": run["fit_seconds"], "encoder_alone": alone_seconds}, "grid": grid}


def seeds_verdict(verdicts: list[str]) -> str:
    """One verdict over seeds: the seeds' common verdict, else "not reached (seeds disagree)"."""
    if not verdicts:
        raise ValueError("seeds_verdict: no seeds")
    return verdicts[0] if len(set(verdicts)) == 1 else "not reached (seeds disagree)"


# ----------------------------------------------------------------------------- report
def verdict(ours: float, theirs: float, p: float) -> str:
    if ours > theirs and p < 0.05:
        return "reached"
    if ours < theirs and p < 0.05:
        return "not reached (significantly lower)"
    return "not reached (" + ("higher" if ours > theirs else "lower") + ", but not significant)"


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _link(path: str) -> str:
    """A grid's link from benchmarks/RESULTS.md."""
    return str(Path(path).relative_to("benchmarks")) if path.startswith("benchmarks/") else path


def budget(steps: int, recipe: int) -> str:
    """How ``steps`` stands to the recipe's ``recipe`` iterations, in words."""
    if steps == recipe:
        return f"the recipe's {recipe:,}"
    return f"{steps / recipe:.0%} of the recipe's {recipe:,}: a shortened run" if steps < recipe else f"the recipe says {recipe:,}"


SSAAE_PUBLISHED = ("Makhzani et al. 2015, Table 2: 1.90 % +- 0.10 error on MNIST with 100 labels (60,000 training "
                   "digits; MLP encoder, decoder and discriminators of 1,000 units; SGD with momentum).")


def ssaae_text(part: dict[str, Any]) -> str:
    """The SemiSupervisedAAE rows of the section, with the verdict over seeds."""
    runs = [part["runs"][key] for key in sorted(part["runs"], key=int)]
    rows, verdicts = [], []
    for run in runs:
        acc, pc = run["accuracy"], run["paired"]
        verdicts.append(verdict(acc["ssaae"], acc["encoder_alone"], pc["p_value"]))
        rows.append(f"| {run['seed']} | {pct(acc['ssaae'])} ({pct(1 - acc['ssaae'])} error) | {pct(acc['encoder_alone'])} | "
                    f"{pc['first_only']} / {pc['second_only']}, p = {pc['p_value']:.2g} | {verdicts[-1]} |")
    overall = seeds_verdict(verdicts)
    recipe = load_recipe("SemiSupervisedAAE", "mnist5k")["max_steps"]
    fit = ", ".join(f"seed {r['seed']}: {r['seconds']['ssaae']:.0f} s (encoder alone {r['seconds']['encoder_alone']:.0f} s)"
                    for r in runs)
    grids = ", ".join(f"[{Path(r['grid']).name}]({_link(r['grid'])})" for r in runs)
    seeds = ", ".join(str(r["seed"]) for r in runs)
    return f"""
SemiSupervisedAAE (Makhzani et al. 2015, section 5): held-out accuracy of the encoder's categorical head y
(`classify`), {runs[0]['num_labeled']} labels (10 per class, the model's stratified pick), against the same encoder
network from the same initial weights trained on the {runs[0]['num_labeled']} labels alone (its `classifier`
optimiser settings, the same labelled batch of 64 and iterations: one supervised step per iteration, where the
model's encoder also takes its reconstruction and regularisation steps). Seeds {seeds}; {part['steps']:,} iterations
({budget(part['steps'], recipe)}) of `experiments/semisupervisedaae/mnist5k.yaml` (DCGAN-style encoder and decoder,
Adam 2e-4; the paper's MLPs of 1,000 units and SGD with momentum are not what is run). The authors released no
code (a search finds only third-party reimplementations); the model follows the paper's section 5: per batch the
reconstruction phase, the regularisation phase (the categorical and the Gaussian-style discriminators, then the
encoder against both) and the semi-supervised classification phase on a labelled batch. Fit seconds: {fit}; wall
time of the part {part['wall_seconds'] / 60:.1f} min, load average {part.get('load', [math.nan])[0]:.1f} at its
start. PUBLISHED: {SSAAE_PUBLISHED}

| Seed | SemiSupervisedAAE's y | Encoder alone on the labels | SSAAE only / alone only, McNemar p | SSAAE better? |
|---|---:|---:|---:|---|
{chr(10).join(rows)}

SemiSupervisedAAE vs the encoder alone (the paper: the categorical/style split with 100 labels classifies MNIST
digits), over {len(runs)} seed{"s" if len(runs) > 1 else ""}: **{overall}**.

Pictures (row k: the decoder given class k, 10 styles z ~ N(0, I)): {grids}
"""


def pseudo_real_words(triple: dict[str, Any]) -> str:
    """What the Triple-GAN run's D takes as real pairs (runs before the option: labelled pairs only)."""
    count = triple.get("pseudo_real", 0)
    if not count:
        return "; D's real pairs are labelled pairs only (the paper's objective)"
    return (f"; D's real pairs are the labelled batch and {count} of the unlabelled batch's images with C's labels "
            "(`pseudo_real`: the authors' code, C's fake pairs the rest of the batch)")


def report_text(results: dict[str, Any], command: str) -> str:
    t, info = results["triple"], results["info"]
    acc, paired = t["accuracy"], t["paired"]
    names = {"classifier_alone": "C alone on the 100 labels (same net, init, optimiser, iterations)",
             "classifier_entropy": "C alone + its entropy / balance terms on unlabelled batches",
             "ssgan": "SemiSupervisedGAN's D (its recipe, 100 labels, same iterations)"}
    triple_rows = [f"| Triple-GAN's C (`predict`) | {pct(acc['triplegan'])} | | |"]
    for key, what in names.items():
        pc = paired[key]
        triple_rows.append(f"| {what} | {pct(acc[key])} | {pc['first_only']} / {pc['second_only']}, "
                           f"p = {pc['p_value']:.2g} | {verdict(acc['triplegan'], acc[key], pc['p_value'])} |")
    info_rows = []
    for name, row in info["rows"].items():
        pc = row.get("paired_vs_infogan")
        paired_text = f"{pc['first_only']} / {pc['second_only']}, p = {pc['p_value']:.2g}" if pc else ""
        ver = verdict(row["purity"], info["rows"]["InfoGAN"]["purity"], pc["p_value"]) if pc else ""
        info_rows.append(f"| {name} | {row['num_labeled'] or '-'} | {pct(row['purity'])} | {row['digits_covered']} | "
                         f"{pct(row['code_is_label']) if 'code_is_label' in row else '-'} | {paired_text} | {ver} |")
    grids = ([t["grid"]] + [run["grid"] for run in other_seeds(results)[0]]
             + [row["grid"] for row in info["rows"].values() if "grid" in row])
    seconds = t["seconds"]
    info_seconds = ", ".join(f"{name} {row['fit_seconds']:.0f}" for name, row in info["rows"].items())
    return f"""## Semi-supervised: Triple-GAN and ss-InfoGAN (issue 16)

Written by `benchmarks/semisupervised.py`; do not edit by hand. Commands (from the repository root;
each part, `triple`, `info` and `ssaae`, is cached in `benchmarks/semisupervised/results.json` when it ends):

```sh
{command}
```

- Data: MNIST5k, 32 px, batch 64: 4,500 training digits (the only labels read are each model's
  labelled subset, a seeded stratified pick), 500 held-out digits scored. Seed {t['seed']}, one run per row.
- **Budget**: one thread, {results.get('platform', platform.platform())}, torch {torch.__version__}, on a 2-core machine shared with
  other jobs (load average {results['load'][0]:.1f} at the start of the last run: iterations, not minutes,
  are the budget). Triple-GAN, both C-alone baselines and SemiSupervisedGAN {t['steps']:,} iterations each
  ({budget(t['steps'], 3000)}); InfoGAN and the three ss-InfoGAN runs {info['steps']:,} iterations each
  ({budget(info['steps'], 6000)}). Triple-GAN runs its recipe with C's width {t['c_width']} (the authors': 32)
  and R_P from iteration {t['pseudo_start']:,} (the recipe's 30 % of training){pseudo_real_words(t)}. Fit seconds: Triple-GAN
  {seconds['triplegan']:.0f}, C alone {seconds['classifier_alone']:.0f}, C + entropy terms
  {seconds['classifier_entropy']:.0f}, SemiSupervisedGAN {seconds['ssgan']:.0f}; {info_seconds}. Wall time of the
  runs: {results['wall_seconds'] / 60:.1f} min. The published numbers below are after 1,000 epochs of 60,000 digits.
- Triple-GAN's C was at 38.0 % in this script's first run (commit 8fd87fd), when C's forward on G's
  samples (R_P) also updated its BatchNorm running statistics, as in the authors' code; TripleGAN now
  leaves them alone (`frozen_running_statistics`), which gives the row below.
- Paired test: the exact two-sided McNemar test on the same {t['num_heldout']} held-out digits (digits only
  the first / only the second gets right); "reached" = higher and p < 0.05.
- {PUBLISHED} `benchmarks/conditional.py` measured SemiSupervisedGAN at 83.0 % after its recipe's 3,000
  iterations; InfoGAN's purity 62.2 % there is after 6,000.

Triple-GAN's classifier, {t['num_labeled']} labels:

| Classifier | Held-out accuracy | Triple-GAN only / other only, McNemar p | Triple-GAN better? |
|---|---:|---:|---|
{chr(10).join(triple_rows)}

ss-InfoGAN vs InfoGAN, code-to-class agreement of Q's categorical code on the held-out digits:

| Model | Labels | Purity (code -> majority digit) | Digits some code maps to | Code = label | vs InfoGAN: only ours / only InfoGAN, p | Purity above InfoGAN? |
|---|---:|---:|---:|---:|---:|---|
{chr(10).join(info_rows)}

{seeds_text(results)}{diagnostics_text(results)}{curves_text(results)}{probes_text(results)}Pictures (row k: class / code k, 10 samples of raw G each): {", ".join(f"[{Path(g).name}]({_link(g)})" for g in grids)}
{ssaae_text(results["ssaae"]) if "ssaae" in results else ""}"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triple-steps", type=int, default=250, help="iterations of Triple-GAN, its baselines, SSGAN")
    parser.add_argument("--info-steps", type=int, default=100, help="iterations of InfoGAN and each ss-InfoGAN")
    parser.add_argument("--c-width", type=int, default=16, help="Triple-GAN's classifier width (the authors': 32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--report-only", action="store_true", help="rewrite the section from results.json")
    parser.add_argument("--parts", default="triple,info",
                        help="which parts to (re)run: triple, info, ssaae (comma-separated); the others are read from "
                             "--results")
    parser.add_argument("--ssaae-steps", type=int, default=None,
                        help="iterations of SemiSupervisedAAE and its encoder alone (default: the recipe's max_steps)")
    parser.add_argument("--ssaae-seeds", type=int_list, default=(0, 1),
                        help="seeds of the SemiSupervisedAAE part (a seed already in --results at these steps is kept)")
    parser.add_argument("--results", type=Path, default=RESULTS_JSON, help="the raw results (JSON)")
    parser.add_argument("--triple-seeds", type=int_list, default=None,
                        help="more seeds of the Triple-GAN part (all four rows) at --triple-steps and --c-width, each "
                             "kept in --results under triple_seeds (a seed already there is not retrained) and listed "
                             "in the section with the verdict over seeds; the part's main rows stay --seed's")
    parser.add_argument("--diagnostic", default=None, metavar="KEY=VALUE[,KEY=VALUE]",
                        help="train Triple-GAN alone with these model options (or the data's batch_size) changed "
                             "(e.g. alpha=0) at --triple-steps and --c-width; its C's held-out accuracy is kept in "
                             "--results and listed in the section")
    parser.add_argument("--curve", type=int, default=None, metavar="STEPS",
                        help="train Triple-GAN (the recipe, with --diagnostic's changes if given) to STEPS iterations, "
                             "measuring C's held-out accuracy and G's samples judged every --every; kept in --results "
                             "under triple_curves and listed in the section")
    parser.add_argument("--d-probe", type=int, default=None, metavar="STEPS",
                        help="train Triple-GAN (the recipe, with --diagnostic's changes if given) STEPS iterations, "
                             "reading D's scores every --every (held-out digits with their label and another, G's "
                             "samples, the training batch's pairs); kept under triple_probes and listed in the section")
    parser.add_argument("--every", type=int, default=750, help="--curve's and --d-probe's measuring interval (iterations)")
    args = parser.parse_args(argv)
    args.changes = parse_changes(args.diagnostic, parser) if args.diagnostic is not None else None
    for option, steps in (("--curve", args.curve), ("--d-probe", args.d_probe)):
        if steps is not None and (steps < args.every or args.every < 1):
            parser.error(f"{option} {steps} must be at least --every ({args.every}), and --every at least 1")
    if args.curve is not None and args.d_probe is not None:
        parser.error("--curve and --d-probe are two runs: give one")
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not set(args.parts) <= {"triple", "info", "ssaae"}:
        parser.error(f"--parts takes triple, info and/or ssaae, got {args.parts}")
    if args.ssaae_steps is None:
        args.ssaae_steps = load_recipe("SemiSupervisedAAE", "mnist5k")["max_steps"]
    return args


def parse_changes(text: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """``"alpha=0,pseudo_real=32"`` -> ``{"alpha": 0, "pseudo_real": 32}`` (values read as YAML)."""
    accepted = set(triple_defaults())
    changes = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, equals, value = part.partition("=")
        if not equals or key.strip() not in accepted:
            parser.error(f"--diagnostic: {part!r} is not KEY=VALUE with KEY a TripleGAN option or the data's "
                         f"batch_size ({', '.join(sorted(accepted))})")
        changes[key.strip()] = yaml.safe_load(value)
    if not changes:
        parser.error(f"--diagnostic: expected KEY=VALUE[,KEY=VALUE], got {text!r}")
    return changes


def diagnostic_label(changes: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in changes.items())


def triple_defaults() -> dict[str, Any]:
    """TripleGAN's options and their class defaults (the data shape left out: the data sets it), and the data's
    ``DATA_OPTIONS`` with the recipe's values."""
    import inspect

    from gan_lightning.models import TripleGAN

    data = load_recipe("TripleGAN", "mnist5k")["data_args"]
    return {**{name: p.default for name, p in inspect.signature(TripleGAN.__init__).parameters.items()
               if p.default is not inspect.Parameter.empty and name != "data_shape"},
            **{key: data[key] for key in DATA_OPTIONS}}


def triple_options(c_width: int, pseudo_start: int, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every TripleGAN option a run of this script trains with (class defaults, the recipe's values, C's width,
    R_P's start, ``changes``), tuples as the lists JSON keeps: a diagnostic run's settings, compared with the recipe's of
    the day when the section is written."""
    defaults = triple_defaults()
    options = {**defaults, **load_recipe("TripleGAN", "mnist5k")["init_args"], "c_width": c_width,
               "pseudo_start": pseudo_start, **(changes or {})}
    return {key: list(options[key]) if isinstance(options[key], tuple) else options[key] for key in defaults}


def changed_from(options: dict[str, Any], recipe: dict[str, Any]) -> str:
    """``"alpha=0, pseudo_real=0"``: where a run's options differ from the recipe's (none: ``"none"``)."""
    return diagnostic_label({key: value for key, value in options.items()
                             if key in recipe and value != recipe[key]}) or "none"


def diagnostic(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """Triple-GAN's C accuracy on the held-out digits with ``args.changes`` from the recipe, and the share of G's
    samples the digits classifier reads as the asked class, kept in ``results["triple_diagnostics"]`` (a run
    already there at these steps, width and seed is not repeated; the file is reread before saving, so runs side
    by side keep each other's). A ``pretrain_steps`` change adds C's pre-training before the game's
    ``--triple-steps`` iterations. Returns the results as saved."""
    label = diagnostic_label(args.changes)
    key = f"{label} / {seed_key(args.triple_steps, args.c_width, args.seed)}"
    if key in results.get("triple_diagnostics", {}):
        print(f"{key}: cached in {args.results}", flush=True)
        return results
    torch.set_num_threads(1)
    total = args.triple_steps + int(args.changes.get("pretrain_steps", 0))  # C's pre-training comes before the game
    run = train("TripleGAN", "mnist5k", total, args.seed, c_width=args.c_width,
                pseudo_start=round(0.3 * args.triple_steps), **args.changes)
    images, labels = heldout()
    accuracy = float((in_batches(run["model"].predict, images) == labels).float().mean())
    options = triple_options(args.c_width, round(0.3 * args.triple_steps), args.changes)
    grid = class_grid(run["model"], grid_name("diagnostic", args.changes, args.seed))
    entry = {"changes": args.changes, "label": label, "options": options, "steps": args.triple_steps,
             "c_width": args.c_width, "seed": args.seed, "accuracy": accuracy, "g_judged": judged_classes(run["model"]),
             "fit_seconds": run["fit_seconds"], "command": command_line(__file__, args.argv), "grid": grid}
    print(json.dumps(entry), flush=True)
    return save_run(args.results, key, entry, within="triple_diagnostics", drop=())


def curve_key(label: str, args: argparse.Namespace) -> str:
    return f"{label} / {seed_key(args.triple_steps, args.c_width, args.seed)} / every {args.every}"


def triple_curve(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """Triple-GAN with ``args.changes`` (none: its recipe) trained to ``args.curve`` iterations, C's held-out accuracy
    and G's judged share (``judged_classes``) measured every ``args.every``; the points kept in
    ``results["triple_curves"]`` as they are measured (the file reread first), checkpoints in ``CURVE_RUNS``: an
    interrupted or shorter curve of the same settings resumes. Up to ``--triple-steps`` it trains as the part's and
    ``--diagnostic``'s runs do (same seed, data and R_P start). Returns the results as saved."""
    import lightning as L

    changes = args.changes or {}
    label = diagnostic_label(changes) or "recipe"
    key = curve_key(label, args)
    pseudo_start = round(0.3 * args.triple_steps)
    settings = {"changes": changes, "label": label, "options": triple_options(args.c_width, pseudo_start, changes),
                "steps": args.triple_steps, "c_width": args.c_width, "seed": args.seed, "every": args.every}
    folder = CURVE_RUNS / "".join(ch if ch.isalnum() else "_" for ch in key)
    kept = results.get("triple_curves", {}).get(key)
    # an option added to TripleGAN since a kept curve was trained is no difference (it defaults to what the run did)
    same_options = kept is not None and changed_from(kept["options"], settings["options"]) == "none"
    cached = cached_curve(args.results, key, settings, args.curve, folder, within="triple_curves",
                          extendable=("options",) if same_options else ())
    grid = grid_name("curve", changes or {"recipe": ""}, args.seed)
    if cached.complete:
        print(f"{key} to {args.curve}: cached in {args.results}", flush=True)
        last = kept_checkpoints(folder).get(kept["points"][-1]["iteration"])
        if "grid" in kept or last is None:
            return results
        model, _ = build("TripleGAN", "mnist5k", c_width=args.c_width, pseudo_start=pseudo_start, **changes)
        model.load_state_dict(torch.load(last, map_location="cpu", weights_only=False)["state_dict"])
        return save_run(args.results, key, {**kept, "grid": class_grid(model, grid)}, within="triple_curves", drop=())
    quiet_lightning()
    torch.set_num_threads(1)
    images, labels = heldout()

    def measure(model) -> dict[str, float]:
        return {"accuracy": float((in_batches(model.predict, images) == labels).float().mean()),
                "g_judged": judged_classes(model)}

    saved = [results]

    def save(points: list[dict[str, Any]], seconds: float) -> None:
        saved[0] = save_run(args.results, key, {**settings, "fit_seconds": seconds, "points": points,
                                                "command": command_line(__file__, args.argv)},
                            within="triple_curves", drop=())
        print(json.dumps({"curve": key, **points[-1]}), flush=True)

    L.seed_everything(args.seed, workers=False, verbose=False)
    model, data = build("TripleGAN", "mnist5k", c_width=args.c_width, pseudo_start=pseudo_start, **changes)
    fit_measured(model, data, args.curve, args.every, folder, measure, cached.points, save, spent=cached.spent,
                 label=key)
    kept = saved[0]["triple_curves"][key]
    return save_run(args.results, key, {**kept, "grid": class_grid(model, grid)}, within="triple_curves", drop=())


def part_runs(results: dict[str, Any], within: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The runs kept under ``results[within]`` at the Triple-GAN part's steps and C width, and today's recipe options
    (what each run's change is read against)."""
    t = results["triple"]
    runs = [run for run in results.get(within, {}).values() if (run["steps"], run["c_width"]) == (t["steps"], t["c_width"])]
    return runs, triple_options(t["c_width"], t["pseudo_start"])


def run_name(run: dict[str, Any], recipe: dict[str, Any]) -> str:
    """"the recipe", or the run's change from it in backquotes."""
    change = changed_from(run["options"], recipe)
    return "the recipe" if change == "none" else f"`{change}`"


def curves_text(results: dict[str, Any]) -> str:
    """The ``--curve`` runs at the Triple-GAN part's steps and width: C's accuracy and G's judged share per
    measured iteration, a column per curve."""
    t = results["triple"]
    curves, recipe = part_runs(results, "triple_curves")
    if not curves:
        return ""
    names = [f"{run_name(curve, recipe)}, seed {curve['seed']}" for curve in curves]
    iterations = sorted({point["iteration"] for curve in curves for point in curve["points"]})
    rows = []
    for iteration in iterations:
        cells = []
        for curve in curves:
            point = next((p for p in curve["points"] if p["iteration"] == iteration), None)
            cells.append(f"{pct(point['accuracy'])} / {pct(point['g_judged'])}" if point else "")
        marker = " (the part's budget)" if iteration == t["steps"] else ""
        rows.append(f"| {iteration:,}{marker} | " + " | ".join(cells) + " |")
    commands = "\n".join(dict.fromkeys(curve["command"] for curve in curves))
    seconds = ", ".join(f"{name} {curve['fit_seconds'] / 60:.0f} min" for name, curve in zip(names, curves))
    grids = ", ".join(f"{name} at {curve['points'][-1]['iteration']:,}: [{Path(curve['grid']).name}]({_link(curve['grid'])})"
                      for name, curve in zip(names, curves) if "grid" in curve)
    grids = f"G's samples at each curve's last point (row k: class k): {grids}\n\n" if grids else ""
    return f"""Triple-GAN past the part's {t['steps']:,} iterations (`--curve`; R_P from iteration {t['pseudo_start']:,} as in the
part's runs, which these curves repeat up to {t['steps']:,}): C's held-out accuracy / the share of G's samples the
digits classifier reads as the asked class (as in the diagnostics' table; 10 % is chance). Fit time: {seconds}.

| Iteration | {" | ".join(names)} |
|---:|{"---:|" * len(curves)}
{chr(10).join(rows)}

```sh
{commands}
```

{grids}"""


def d_scores(model, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """D's mean score (the probability of real; eval mode, so without its noise) on ``images`` with their own
    ``labels``, with another label each (the same draw at every call), and on as many of G's samples (fixed noise,
    balanced asked labels) with the asked labels."""
    other = (labels + torch.randint(1, 10, labels.shape, generator=torch.Generator().manual_seed(99))) % 10
    asked = torch.arange(len(labels)) % 10
    samples = model.sample(len(asked), labels=asked, use_ema=False, rng=torch.Generator().manual_seed(4321))
    was_training = model.discriminator.training
    model.discriminator.eval()
    try:
        with torch.no_grad():
            return {name: float(torch.sigmoid(model.discriminate(x, y)).mean())
                    for name, (x, y) in (("own", (images, labels)), ("other", (images, other)),
                                         ("g", (samples, asked)))}
    finally:
        model.discriminator.train(was_training)


def d_probe(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """Triple-GAN with ``args.changes`` (none: its recipe) trained ``args.d_probe`` iterations as the diagnostics
    are (same seed, data, R_P start); every ``args.every`` iterations, and after the first, ``d_scores`` on the
    held-out digits and the training batch's mean D on its real pairs, C's fake pairs and G's pairs
    (``d_real``, ``d_pseudo``, ``d_fake``). Kept in ``results["triple_probes"]`` (the file reread before saving);
    a probe already there is not repeated. Returns the results as saved."""
    import lightning as L

    changes = args.changes or {}
    label = diagnostic_label(changes) or "recipe"
    key = f"{label} / {seed_key(args.triple_steps, args.c_width, args.seed)} / to {args.d_probe} every {args.every}"
    if key in results.get("triple_probes", {}):
        print(f"{key}: cached in {args.results}", flush=True)
        return results
    quiet_lightning()
    torch.set_num_threads(1)
    images, labels = heldout()
    points = []

    class Probe(L.Callback):
        def on_train_batch_end(self, trainer, model, *rest) -> None:
            step = trainer.global_step
            if step == 1 or step % args.every == 0:
                batch = {name: float(model.latest_terms[name]) for name in ("d_real", "d_pseudo", "d_fake")}
                points.append({"iteration": step, **d_scores(model, images, labels), **batch})

    pseudo_start = round(0.3 * args.triple_steps)
    L.seed_everything(args.seed, workers=False, verbose=False)
    model, data = build("TripleGAN", "mnist5k", c_width=args.c_width, pseudo_start=pseudo_start, **changes)
    seconds = fit_exactly(model, data, args.d_probe, [Probe()], "TripleGAN")
    entry = {"changes": changes, "label": label, "options": triple_options(args.c_width, pseudo_start, changes),
             "steps": args.triple_steps, "c_width": args.c_width, "seed": args.seed, "every": args.every,
             "probe_steps": args.d_probe, "points": points, "heldout": len(labels), "fit_seconds": seconds,
             "command": command_line(__file__, args.argv)}
    return save_run(args.results, key, entry, within="triple_probes", drop=())


def probes_text(results: dict[str, Any]) -> str:
    """The ``--d-probe`` runs at the Triple-GAN part's steps and width: a table of D's scores per probe."""
    t = results["triple"]
    probes, recipe = part_runs(results, "triple_probes")
    if not probes:
        return ""
    parts = []
    for probe in sorted(probes, key=lambda probe: (run_name(probe, recipe) != "the recipe", run_name(probe, recipe))):
        name, points = run_name(probe, recipe), probe["points"]
        rows = [f"| {p['iteration']:,} | {p['own']:.3f} | {p['other']:.3f} | {p['g']:.3f} | {p['d_real']:.3f} | "
                f"{p['d_pseudo']:.3f} | {p['d_fake']:.3f} |" for p in points]
        gap = max(p["own"] - p["other"] for p in points)
        later = [p for p in points if p["iteration"] >= 300]
        span = (f"; from iteration 300 held-out digits {min(p['own'] for p in later):.3f}-{max(p['own'] for p in later):.3f}"
                f", G's samples {min(p['g'] for p in later):.3f}-{max(p['g'] for p in later):.3f}" if later else "")
        parts.append(f"""{name}, seed {probe['seed']} (fit {probe['fit_seconds'] / 60:.0f} min; a digit's own label scores at most
{gap:.3f} above another{span}):

| Iteration | D(held-out digit, its label) | D(held-out digit, another label) | D(G's sample, asked label) | batch: D's real pairs | batch: C's fake pairs | batch: G's pairs |
|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
""")
    commands = "\n".join(dict.fromkeys(probe["command"] for probe in probes))
    return f"""What D does (`--d-probe`: the run's D read every few iterations; R_P from iteration {t['pseudo_start']:,} as
in the part's runs): D's mean probability of real, in eval mode (without its noise), on the {probes[0]['heldout']:,}
held-out digits with their own label and with another label, and on as many of G's samples (fixed noise) with the
asked label; and on the training step's own pairs (D in train mode: its real pairs, C's fake pairs, G's pairs).

{chr(10).join(parts)}
```sh
{commands}
```

"""


def seed_key(steps: int, c_width: int, seed: int) -> str:
    return f"steps {steps} / c_width {c_width} / seed {seed}"


def more_triple_seeds(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """The Triple-GAN part's four rows on each of ``args.triple_seeds``, kept in ``results["triple_seeds"]`` (saved
    after each seed, the file reread first; a seed already there at these steps and width is not retrained).
    Returns the results as saved."""
    torch.set_num_threads(1)
    for seed in args.triple_seeds:
        key = seed_key(args.triple_steps, args.c_width, seed)
        if key in results.get("triple_seeds", {}):
            print(f"Triple-GAN {key}: cached in {args.results}", flush=True)
            continue
        started = time.perf_counter()
        run = run_triple(args.triple_steps, seed, args.c_width)
        run.update(wall_seconds=time.perf_counter() - started, command=command_line(__file__, args.argv),
                   load=list(load_average()))
        results = save_run(args.results, key, run, within="triple_seeds", drop=())
        print(json.dumps({"seed": seed, **run["accuracy"]}), flush=True)
    return results


def other_seeds(results: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The ``--triple-seeds`` runs at the Triple-GAN part's steps and width with today's recipe, and how many kept
    runs at those steps and width were left out for another recipe."""
    t = results["triple"]
    recipe = triple_options(t["c_width"], t["pseudo_start"])
    others = [run for run in results.get("triple_seeds", {}).values()
              if (run["steps"], run["c_width"]) == (t["steps"], t["c_width"]) and run["seed"] != t["seed"]]
    # an option added since a run was made is not a difference (it defaults to what the run did)
    same = sorted((run for run in others if changed_from(run["options"], recipe) == "none"), key=lambda run: run["seed"])
    return same, len(others) - len(same)


def seeds_text(results: dict[str, Any]) -> str:
    """The Triple-GAN part's rows on every seed run with its steps, width and today's recipe (the part's own seed
    and ``--triple-seeds``'), with the verdict against C alone over them; empty with the part's seed alone."""
    t = results["triple"]
    same, skipped = other_seeds(results)
    if not same:
        return ""
    runs = sorted([t, *same], key=lambda run: run["seed"])
    rows, verdicts = [], []
    for run in runs:
        acc, pc = run["accuracy"], run["paired"]["classifier_alone"]
        verdicts.append(verdict(acc["triplegan"], acc["classifier_alone"], pc["p_value"]))
        rows.append(f"| {run['seed']} | {pct(acc['triplegan'])} | {pct(acc['classifier_alone'])} | "
                    f"{pc['first_only']} / {pc['second_only']}, p = {pc['p_value']:.2g} | {verdicts[-1]} | "
                    f"{pct(acc['classifier_entropy'])} | {pct(acc['ssgan'])} |")
    mean = sum(run["accuracy"]["triplegan"] - run["accuracy"]["classifier_alone"] for run in runs) / len(runs)
    commands = "\n".join(dict.fromkeys(run["command"] for run in same))
    left_out = f"; {skipped} kept run{'s' if skipped > 1 else ''} of another recipe left out" if skipped else ""
    return f"""Triple-GAN's C against C alone on other seeds (`--triple-seeds`: the same four rows, today's recipe,
{t['steps']:,} iterations, C's width {t['c_width']}; each seed draws its own initial weights, batches and noise, the
100 labelled digits stay the recipe's pick, `labeled_seed` {same[0]['options']['labeled_seed']}){left_out}:

| Seed | Triple-GAN's C | C alone | Triple-GAN only / C alone only, McNemar p | Triple-GAN better? | C + entropy / balance terms | SemiSupervisedGAN |
|---|---:|---:|---:|---|---:|---:|
{chr(10).join(rows)}

Over {len(runs)} seeds (mean gain {100 * mean:+.1f} points): **{seeds_verdict(verdicts)}**.

```sh
{commands}
```

"""


def change_cell(run: dict[str, Any], recipe: dict[str, Any]) -> str:
    """A diagnostic's change against today's recipe."""
    change = changed_from(run["options"], recipe)
    return "none (the recipe's settings: a second run)" if change == "none" else f"`{change}`"


def diagnostics_text(results: dict[str, Any]) -> str:
    """The ``--diagnostic`` runs at the Triple-GAN part's steps and width, each beside the recipe's rows of its seed
    (the part's own or a ``--triple-seeds`` run of today's recipe; none kept: no comparison)."""
    t = results["triple"]
    runs, recipe = part_runs(results, "triple_diagnostics")
    runs.sort(key=lambda run: (run["seed"], run["label"]))  # the same order from the file or a run just made
    if not runs:
        return ""
    by_seed = {run["seed"]: run["accuracy"] for run in [t, *other_seeds(results)[0]]}

    def row(run: dict[str, Any]) -> str:
        acc = by_seed.get(run["seed"])
        versus = (f"{100 * (run['accuracy'] - acc['triplegan']):+.1f} | {100 * (run['accuracy'] - acc['classifier_alone']):+.1f}"
                  if acc else "- | -")
        judged = pct(run["g_judged"]) if "g_judged" in run else "-"
        return (f"| {run['seed']} | {change_cell(run, recipe)} | {pct(run['accuracy'])} | {versus} | {judged} | "
                f"{run['fit_seconds']:.0f} |")

    commands = "\n".join(dict.fromkeys(run["command"] for run in runs))
    grids = ", ".join(f"[{Path(run['grid']).name}]({_link(run['grid'])})" for run in runs if "grid" in run)
    grids = f"G's samples of the runs that kept them (row k: class k): {grids}\n\n" if grids else ""
    recipe_cs = "; ".join(f"seed {seed}: {pct(acc['triplegan'])} and {pct(acc['classifier_alone'])}"
                          for seed, acc in sorted(by_seed.items()))
    return f"""Triple-GAN with model options changed from its recipe (`--diagnostic`, {t['steps']:,} iterations, C's width
{t['c_width']}; one run each, no paired test; the change is read against the recipe of today, so a run made before
the recipe changed names that difference too), each against the recipe's C and C alone on the labels of its seed
({recipe_cs}). G's samples judged: the share of 1,000 of G's samples (100 per class, the same noise
for every run) the digits classifier (`gan_lightning.evaluation.load_digits_classifier`, not the model's C) reads as
the asked class; 10 % is chance ("-": a run made before it was measured):

| Seed | Change | C's held-out accuracy | vs the recipe's C (points) | vs C alone (points) | G's samples judged the asked class | fit s |
|---|---|---:|---:|---:|---:|---:|
{chr(10).join(row(run) for run in runs)}

```sh
{commands}
```

{grids}"""


def run_ssaae(args: argparse.Namespace, results: dict[str, Any], started: float) -> None:
    """The SemiSupervisedAAE part, seed by seed: each finished seed is saved in ``--results`` at once, and a seed
    already there at ``--ssaae-steps`` is kept (the other parts are never retrained here)."""
    part = results.get("ssaae")
    if not part or part["steps"] != args.ssaae_steps:
        part = {"steps": args.ssaae_steps, "runs": {}, "wall_seconds": 0.0}
    part["load"] = list(load_average())
    command = results["command"]
    for seed in args.ssaae_seeds:
        if str(seed) in part["runs"]:
            print(f"SemiSupervisedAAE seed {seed}: cached in {args.results}", flush=True)
            continue
        seed_started = time.perf_counter()
        part["runs"][str(seed)] = run_ssaae_seed(args.ssaae_steps, seed)
        part["wall_seconds"] += time.perf_counter() - seed_started
        part["command"] = command
        results["ssaae"] = part
        save_runs(results, args.results, drop=())
        print(json.dumps({"seed": seed, **part["runs"][str(seed)]["accuracy"]}), flush=True)
    results["ssaae"] = part


def main(argv=None) -> None:
    args = parse_args(argv)
    args.argv = argv
    previous = load_runs(args.results)
    if args.curve is not None:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        results = triple_curve(args, previous)
    elif args.d_probe is not None:
        results = d_probe(args, previous)
    elif args.diagnostic is not None:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        results = diagnostic(args, previous)
    elif args.triple_seeds is not None:
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        results = more_triple_seeds(args, previous)
    elif args.report_only:
        results = previous
    else:
        torch.set_num_threads(1)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        # each part is saved as soon as it ends; a part not rerun keeps its cached result
        for part in ("triple", "info", "ssaae"):  # results of an older version of this script: one command for all
            if part in previous and "command" not in previous[part]:
                previous[part]["command"] = previous.get("command", "")
        command = command_line(__file__, argv)
        results = {**previous, "command": command}
        if {"triple", "info"} & set(args.parts):  # the load and machine the Triple-GAN / ss-InfoGAN text reports
            results["load"], results["platform"] = list(load_average()), platform.platform()
        started = time.perf_counter()
        for part in args.parts:
            part_started = time.perf_counter()
            if part == "triple":
                results["triple"] = run_triple(args.triple_steps, args.seed, args.c_width)
                print(json.dumps(results["triple"]["accuracy"]), flush=True)
            elif part == "info":
                results["info"] = run_info(args.info_steps, args.seed)
                print(json.dumps({k: v["purity"] for k, v in results["info"]["rows"].items()}), flush=True)
            else:
                run_ssaae(args, results, part_started)
                continue
            results[part]["wall_seconds"] = time.perf_counter() - part_started
            results[part]["command"] = command
            results["wall_seconds"] = time.perf_counter() - started
            save_runs(results, args.results, drop=())  # its "grid" entries are the PNGs' paths
        if {"triple", "info"} & set(args.parts) and set(args.parts) != {"triple", "info"}:
            # a part never run yet has no time (nor a section); the ssaae part's time, load and command are its own
            results["wall_seconds"] = sum(results[p]["wall_seconds"] for p in ("triple", "info") if p in results)
    if not {"triple", "info"} <= set(results):
        done = ("the --curve run" if args.curve is not None else "the --diagnostic run" if args.diagnostic is not None
                else "the --triple-seeds runs" if args.triple_seeds is not None else ", ".join(args.parts))
        print(f"saved {done} in {args.results}; the section needs both parts, triple and info (run the missing one "
              f"with --parts)")
        return
    commands = list(dict.fromkeys(results[part].get("command", results.get("command", ""))
                                  for part in ("triple", "info", "ssaae") if part in results))
    text = report_text(results, "\n".join(commands))
    replace_section(args.out, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
