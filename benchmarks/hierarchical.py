"""The measured claims of the hierarchical generators (issue 27), on CPU.

- LAPGAN vs a single-scale DCGAN: each from its committed recipe (``experiments/lapgan/mnist5k.yaml``,
  ``experiments/dcgan/mnist5k.yaml``: 28 px, batch 64, widths 32), seed 0, the same number of iterations
  (``--steps``, below the recipes' 5,000: the section says so), EMA G (decay 0.999); FID on the offline
  ``digits`` features (1,000 samples against the 500 held-out digits), the classes the digits classifier
  finds, and Karras et al.'s sliced Wasserstein distance per Laplacian band (7x7 patches of each band,
  through ``gan_lightning.evaluation.sliced_wasserstein``), with real training digits as the measure's
  floor. Equal size: LAPGAN's coarsest MLP G is narrowed to (384, 384) so that its three generators
  together have as many parameters as DCGAN's (within 3 %); the parameter counts are in the table
  (LAPGAN's three discriminators are larger than DCGAN's one).
- StackedGAN with entropy weight 0 vs 10 (``experiments/stackedgan/mnist5k.yaml`` as committed: batch 100,
  encoder pre-training 500, joint after 3,000, 5,000 iterations), seed 0, measured every ``--every``
  iterations (EMA G): class agreement (the digits classifier, an independent judge, not the model's
  encoder, vs the asked digit, 100 samples per digit), diversity (the mean pairwise distance of the
  judge's features among the samples of one asked digit, over the same for 40 held-out real digits of
  that class; 1.0: as diverse as the data, averaged over the digits) and the Q heads' error on z (1/12:
  Q reads nothing of z). Each run is checkpointed at every measured point (in the git-ignored
  ``runs/hierarchical_benchmark/``) and resumes from its last one; the section reports the last
  iteration both runs reached and says plainly when it is below the recipe's 5,000.

    python benchmarks/hierarchical.py [--steps 500] [--stacked-steps 5000] [--every 500] [--out ...]
    python benchmarks/hierarchical.py --only StackedGAN_entropy0     # one run per process, in parallel
    python benchmarks/hierarchical.py --report-only                  # the section from the cache

Writes the section ``hierarchical`` of ``--out`` and caches runs in ``benchmarks/hierarchical_runs.json``
(a StackedGAN run after each measured point).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from harness import (
    BENCHMARKS,
    REPO,
    RESULTS_MD,
    build_mnist5k,
    cached_curve,
    command_block,
    command_line,
    fit_exactly,
    fit_measured,
    in_batches,
    load_average,
    load_recipe,
    load_runs,
    quiet_lightning,
    replace_section,
    save_run,
    save_runs,
    split_tensors,
)

SECTION = "hierarchical"
CACHE = BENCHMARKS / "hierarchical_runs.json"
#: StackedGAN's chunk checkpoints (git-ignored ``runs/``): an interrupted run resumes from its last chunk.
CHECKPOINTS = REPO / "runs" / "hierarchical_benchmark"
EVAL_SEED = 1234
PER_CLASS = 100
#: A difference smaller than this share (one seed each) is no verdict: a tie.
MARGIN = 0.10
#: z ~ U(0, 1): a Q head that reads nothing of an entry of z scores 1/12 on it (its constant guess 0.5); an
#: entry is read when Q's error on it is below half of that (Q explains half its variance).
READ_BELOW = 1 / 24


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def train(name: str, steps: int, **overrides):
    import lightning as L

    from gan_lightning.callbacks import EMACallback

    quiet_lightning()
    L.seed_everything(0, workers=False, verbose=False)
    model, data = build_mnist5k(name, **overrides)
    seconds = fit_exactly(model, data, steps, [EMACallback(decay=0.999)], name)
    return model.eval(), data, seconds


def fid_and_classes(model, data) -> dict[str, float]:
    from gan_lightning.evaluation import evaluate_generator

    scores = evaluate_generator(model, data, "fid,classes", num_samples=1000, extractor="digits", seed=EVAL_SEED)
    return {"fid": float(scores["fid"]), "classes": int(scores["classes_covered"])}


#: LAPGAN's coarsest MLP narrowed from the recipe's (512, 512) so that its G has as many parameters as the
#: DCGAN recipe's (347k, within 3 %); the DCGAN recipe as committed.
EQUAL_SIZE = {"LAPGAN": {"g_hidden": (384, 384)}, "DCGAN": {}}


#: Karras et al. 2018's sliced Wasserstein distance (progressive_growing_of_gans, metrics/sliced_wasserstein.py):
#: 7x7 patches of each Laplacian band, each set of descriptors normalised by its own mean and std, SWD over
#: random directions, reported x 10^3. Ours: the project's pyramid (28, 14, 7 px: two bands and the 7 px
#: low-pass), at most 16 patches an image, 512 directions (theirs: 128 an image, 4 x 512 directions).
PATCH, PATCHES_PER_IMAGE, PROJECTIONS, LEVELS = 7, 16, 512, 3


def band_descriptors(images: torch.Tensor, seed: int = EVAL_SEED) -> list[torch.Tensor]:
    """Per Laplacian band (finest first, the coarsest low-pass last): random PATCH x PATCH patches
    (``PATCHES_PER_IMAGE`` an image, or every position of a smaller band), flattened, the set normalised
    by its own per-channel mean and std (Karras's ``finalize_descriptors``)."""
    import torch.nn.functional as F

    from gan_lightning.nets.pyramid import laplacian_pyramid

    generator = torch.Generator().manual_seed(seed)
    descriptors = []
    for band in laplacian_pyramid(images.float(), LEVELS):
        n, channels, height, width = band.shape
        positions = (height - PATCH + 1) * (width - PATCH + 1)
        take = min(PATCHES_PER_IMAGE, positions)
        index = torch.stack([torch.randperm(positions, generator=generator)[:take] for _ in range(n)])
        patches = F.unfold(band, PATCH).view(n, channels, PATCH * PATCH, positions)
        patches = patches.gather(3, index.view(n, 1, 1, take).expand(-1, channels, PATCH * PATCH, -1))
        patches = patches - patches.mean(dim=(0, 2, 3), keepdim=True)
        patches = patches / patches.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
        descriptors.append(patches.permute(0, 3, 1, 2).reshape(n * take, channels * PATCH * PATCH))
    return descriptors


def band_swd(real: torch.Tensor, fake: torch.Tensor) -> list[float]:
    """SWD x 10^3 between the real and the generated images' patches, per band (finest first)."""
    from gan_lightning.evaluation import sliced_wasserstein

    return [1e3 * sliced_wasserstein(r, f, projections=PROJECTIONS, p=1, seed=EVAL_SEED)
            for r, f in zip(band_descriptors(real), band_descriptors(fake))]


def band_names() -> list[str]:
    size = 28
    names = []
    for _ in range(LEVELS - 1):
        names.append(f"{size} px band")
        size //= 2
    return [*names, f"{size} px low-pass"]


def run_pyramid(name: str, steps: int) -> dict[str, Any]:
    model, data, seconds = train(name, steps, **EQUAL_SIZE[name])
    generator = model.generator
    discriminator = model.discriminator
    real, _ = split_tensors(data, "heldout")
    samples = torch.cat([model.sample(250, rng=torch.Generator().manual_seed(EVAL_SEED + s)) for s in range(4)])
    return {"model": name, "steps": steps, "fit_seconds": round(seconds, 1), **fid_and_classes(model, data),
            "g_params": parameters(generator), "d_params": parameters(discriminator),
            "swd": band_swd(real, samples)}


def reference_swd() -> dict[str, Any]:
    """The measure's floor: 1,000 real training digits (a seeded random subset: the split is ordered by class)
    against the 500 held-out ones."""
    from harness import mnist5k_data

    data = mnist5k_data("DCGAN")
    data.setup("fit")
    real, _ = split_tensors(data, "heldout")
    train_images, _ = split_tensors(data, "train")
    subset = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(EVAL_SEED))[:1000]
    return {"model": "real", "steps": 0, "subset": "random", "swd": band_swd(real, train_images[subset])}


def judge_features(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from gan_lightning.evaluation import load_digits_classifier

    judge = load_digits_classifier().eval()
    with torch.no_grad():
        features = in_batches(judge.features, images)
        logits = judge.head(features)
    return features, logits.argmax(1)


def mean_pairwise_distance(features: torch.Tensor) -> float:
    distances = torch.cdist(features, features)
    n = features.size(0)
    return float(distances.sum() / (n * (n - 1)))


def q_readings(model, seed: int = EVAL_SEED) -> dict[str, Any]:
    """The Q heads' squared error on z1 / z0 (trained G, eval mode, 1,000 fresh draws, 100 per digit) and the
    entries of z each head reads: those whose error is below half of 1/12 (Q explains half their variance)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(PER_CLASS)
    training = model.training
    model.eval()
    with torch.no_grad():
        z1, z0 = model.split_noise(model.sample_noise(1000, rng=generator))
        features = model.generator["level1"](z1, labels)
        error1 = (model.feature_discriminator(features)[1] - z1).pow(2).mean(0)
        error0 = (model.image_discriminator(model.generator["level0"](features, z0))[1] - z0).pow(2).mean(0)
    model.train(training)
    return {"q1_error": float(error1.mean()), "q0_error": float(error0.mean()),
            "q1_dims_read": int((error1 < READ_BELOW).sum()), "q0_dims_read": int((error0 < READ_BELOW).sum())}


def stacked_measures(model, data) -> dict[str, Any]:
    """The StackedGAN measures of one moment of training (the RNG and the modules' modes left as they were)."""
    rng_state = torch.get_rng_state()
    labels = torch.arange(10).repeat_interleave(PER_CLASS)
    generator = torch.Generator().manual_seed(EVAL_SEED)
    samples = torch.cat([model.sample(250, labels=labels[s:s + 250], rng=generator) for s in range(0, 1000, 250)])
    features, predicted = judge_features(samples)
    real, real_labels = split_tensors(data, "heldout")
    real_features, _ = judge_features(real)
    ratios = []
    for digit in range(10):
        fake = mean_pairwise_distance(features[labels == digit])
        true = mean_pairwise_distance(real_features[real_labels == digit][:40])
        ratios.append(fake / true)
    with torch.no_grad():
        encoder_acc = float((in_batches(model.encoder, real).argmax(1) == real_labels).float().mean())
    result = {"agreement": float((predicted == labels).float().mean()),
              "worst_digit_agreement": min(float((predicted[labels == d] == d).float().mean()) for d in range(10)),
              "diversity": sum(ratios) / 10, "least_diverse_digit": min(ratios), "encoder_heldout_acc": encoder_acc,
              **q_readings(model), **fid_and_classes(model, data)}
    torch.set_rng_state(rng_state)
    return result


def fill_q_readings(run: dict[str, Any], folder: Path) -> bool:
    """Adds ``q_readings`` to the points of ``run`` measured before they existed, from the run's checkpoint of
    each point (``runs/hierarchical_benchmark/``); True when one was added."""
    from gan_lightning.checkpoints import load_model

    added = False
    for point in run.get("trajectory", []):
        path = folder / f"step={point['iteration']}.ckpt"
        if "q1_dims_read" not in point and path.is_file():
            point.update(q_readings(load_model(path)))
            added = True
    if added and run["trajectory"]:
        run.update({k: v for k, v in run["trajectory"][-1].items() if k.startswith("q")})
    return added


def stacked_folder(entropy_weight: float, encoder_steps: int, joint_after: int, every: int) -> Path:
    return CHECKPOINTS / f"{stacked_key(entropy_weight)}_e{encoder_steps}_j{joint_after}_every{every}"


def stacked_key(entropy_weight: float) -> str:
    return f"StackedGAN_entropy{entropy_weight:g}"


def run_stacked(entropy_weight: float, steps: int, encoder_steps: int, joint_after: int, every: int) -> dict[str, Any]:
    """One StackedGAN run of ``steps`` iterations, measured every ``every`` iterations (``trajectory``, saved in
    the cache as each point is measured) and checkpointed there, so that an interrupted run resumes from its
    last checkpoint (bitwise as if uninterrupted: the core's resume; ``harness.fit_measured``)."""
    import lightning as L

    from gan_lightning.callbacks import EMACallback

    key = stacked_key(entropy_weight)
    settings = {"model": "StackedGAN", "entropy_weight": entropy_weight, "steps": steps,
                "encoder_steps": encoder_steps, "joint_after": joint_after, "every": every}
    cached = cached_curve(CACHE, key, settings, steps, extendable=("steps",), points_key="trajectory")
    if cached.complete:
        return load_runs(CACHE, {})[key]
    folder = stacked_folder(entropy_weight, encoder_steps, joint_after, every)  # named by the settings: kept
    measuring = [0.0]  # the section reports wall seconds of training and measuring

    def measure(module) -> dict[str, Any]:
        started = time.perf_counter()
        point = stacked_measures(module, data)
        measuring[0] += time.perf_counter() - started
        return point

    def save(points: list[dict[str, Any]], seconds: float) -> None:
        save_run(CACHE, key, {**settings, "fit_seconds": round(seconds + measuring[0], 1), **points[-1],
                              "trajectory": points})
        print(f"{key} at {points[-1]['iteration']}: " + ", ".join(f"{k} {v:.4g}" for k, v in points[-1].items()),
              flush=True)

    quiet_lightning()
    L.seed_everything(0, workers=False, verbose=False)
    model, data = build_mnist5k("StackedGAN", entropy_weight=entropy_weight, encoder_steps=encoder_steps,
                                joint_after=joint_after)
    fit_measured(model, data, steps, every, folder, measure, cached.points, save, spent=cached.spent, label=key,
                 callbacks=[EMACallback(decay=0.999)])
    return load_runs(CACHE, {})[key]


def relative_verdict(ours: float, theirs: float, better: str, worse: str) -> str:
    """``better by N %`` / ``worse by N %`` (lower is better), or a tie within ``MARGIN``."""
    change = (ours - theirs) / theirs
    if abs(change) < MARGIN:
        return f"within {100 * MARGIN:.0f} %: a tie"
    return f"{better if change < 0 else worse} by {100 * abs(change):.0f} %"


def budget_words(steps: int) -> str:
    """What ``steps`` iterations are against the LAPGAN and DCGAN recipes' budgets (their ``max_steps``)."""
    budgets = {load_recipe(name, "mnist5k")["max_steps"] for name in ("LAPGAN", "DCGAN")}
    budget = max(budgets)
    if steps >= budget:
        return f"At the recipes' {budget:,} iterations"
    return f"**Below the recipes' {budget:,} iterations**"


def pyramid_lines(runs: dict[str, Any]) -> list[str]:
    lap, dc, real = runs["LAPGAN"], runs["DCGAN"], runs.get("real")
    names = band_names()
    lines = [
        f"### LAPGAN vs a single-scale DCGAN of equal size ({lap['steps']} iterations each)",
        "",
        (f"{budget_words(lap['steps'])}: {lap['steps']} each, seed 0. LAPGAN: the recipe with its "
         "coarsest MLP G narrowed to (384, 384) units, for a G of DCGAN's size. EMA G (decay 0.999); FID on "
         "the offline `digits` features, 1,000 samples against the 500 held-out digits; classes found by the "
         "digits classifier. SWD: Karras et al.'s sliced Wasserstein distance per Laplacian band (x 10^3, "
         f"lower is better): {PATCH}x{PATCH} patches of each band of the project's pyramid (at most "
         f"{PATCHES_PER_IMAGE} an image; the {names[-1]} has one), each set normalised by its own mean and std, "
         f"{PROJECTIONS} random directions; the same 1,000 samples against the 500 held-out digits. The row "
         "`real` is the measure's floor: 1,000 real training digits against the same held-out ones."),
        "",
        ("| model | iterations | G parameters | D parameters | digits FID | classes | "
         + " | ".join(f"SWD {name}" for name in names) + " | fit seconds |"),
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(names) + "---:|",
    ]
    for run in (lap, dc):
        swd = " | ".join(f"{value:.1f}" for value in run["swd"]) if "swd" in run else " | ".join("-" * len(names))
        lines.append(f"| {run['model']} | {run['steps']} | {run['g_params']:,} | {run['d_params']:,} | "
                     f"{run['fid']:.1f} | {run['classes']} | {swd} | {run['fit_seconds']:.0f} |")
    if real is not None:
        lines.append("| real | - | - | - | - | - | " + " | ".join(f"{v:.1f}" for v in real["swd"]) + " | - |")
    fid = relative_verdict(lap["fid"], dc["fid"], "better", "worse")
    lines += ["", f"- digits FID {lap['fid']:.1f} vs {dc['fid']:.1f}: LAPGAN {fid}."]
    verdicts = {"digits FID": fid}
    if "swd" in lap and "swd" in dc:
        for name, ours, theirs in zip(names, lap["swd"], dc["swd"]):
            verdict = relative_verdict(ours, theirs, "better", "worse")
            verdicts[f"SWD of the {name}"] = verdict
            lines.append(f"- SWD of the {name} {ours:.1f} vs {theirs:.1f}: LAPGAN {verdict}.")
    better = [measure for measure, v in verdicts.items() if v.startswith("better")]
    worse = [measure for measure, v in verdicts.items() if v.startswith("worse")]
    if len(better) == len(verdicts):
        overall = "LAPGAN better on every measure (**reached** at this budget, one seed)"
    elif better and worse:
        overall = (f"**reached on {' and '.join(better)} only**: LAPGAN worse on {', '.join(worse)} (at this "
                   "budget, one seed)")
    elif worse:
        overall = "LAPGAN worse on at least one measure (**not reached** at this budget, one seed)"
    else:
        overall = "no measure differs beyond the margin in LAPGAN's disfavour, not all favour it: no verdict"
    lines += ["", (f"Verdict (a {100 * MARGIN:.0f} % margin, one seed): {overall}. LAPGAN is class-conditional, "
                   "DCGAN is not."), ""]
    return lines


def phase_of(run: dict[str, Any], iteration: int) -> str:
    if iteration <= run["encoder_steps"]:
        return "encoder only"
    return "independent" if iteration <= run["joint_after"] else "joint"


def stacked_lines(runs: dict[str, Any]) -> list[str]:
    s0, s10 = runs[stacked_key(0.0)], runs[stacked_key(10.0)]
    points0 = {p["iteration"]: p for p in s0["trajectory"]}
    points10 = {p["iteration"]: p for p in s10["trajectory"]}
    common = sorted(set(points0) & set(points10))
    reached, planned = common[-1], s10["steps"]
    recipe = load_recipe("StackedGAN", "mnist5k")["max_steps"]
    budget = (f"{reached:,} iterations, the recipe's budget" if reached >= recipe else
              f"**{reached:,} iterations, below the recipe's {recipe:,}** (what this CPU allowed by the deadline; "
              f"the runs were planned for {planned:,} and resume from their checkpoints)")
    lines = [
        f"### StackedGAN: entropy weight 0 vs 10, {reached:,} iterations",
        "",
        (f"Wall seconds of training and measuring{' so far' if reached < recipe else ''}: {s0['fit_seconds']:.0f} "
         f"(weight 0) and {s10['fit_seconds']:.0f} (weight 10), the two runs in parallel processes."),
        "",
        (f"The recipe (`experiments/stackedgan/mnist5k.yaml`: batch 100, encoder pre-trained for the first "
         f"{s10['encoder_steps']} iterations, independent training until {s10['joint_after']}, joint after), "
         f"seed 0, both weights alike: {budget}. Every {s10['every']} iterations: class agreement of the digits "
         "classifier (an independent judge, not the model's encoder) with the asked digit, 1,000 EMA samples, "
         "100 per digit; diversity = mean pairwise distance of the judge's features among one digit's samples "
         "over the same among 40 held-out real digits of that class (1.0: as diverse as the data), averaged "
         "over digits; Q1 / Q0 error = the squared error of the Q heads' reconstruction of z1 / z0 from G1's "
         "features / G0's images (trained G, eval mode, 1,000 fresh draws, weight 10's run): z ~ U(0, 1), so "
         "1/12 = 0.083 is what a Q that reads nothing of z scores (its constant guess 0.5); the entropy loss is "
         "this error times the weight. An entry of z is read when Q's error on it is below 1/24 (Q explains "
         "half its variance): G's output carries it."),
        "",
        ("| iteration | phase | diversity w=0 | diversity w=10 | agreement w=0 | agreement w=10 | Q1 error w=10 | "
         "Q0 error w=10 | z1 / z0 entries read, w=10 | FID w=0 | FID w=10 |"),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for iteration in common:
        a, b = points0[iteration], points10[iteration]
        lines.append(f"| {iteration} | {phase_of(s10, iteration)} | {a['diversity']:.2f} | {b['diversity']:.2f} | "
                     f"{100 * a['agreement']:.1f} % | {100 * b['agreement']:.1f} % | {b['q1_error']:.4f} | "
                     f"{b['q0_error']:.4f} | {b.get('q1_dims_read', '-')} / {b.get('q0_dims_read', '-')} | "
                     f"{a['fid']:.1f} | {b['fid']:.1f} |")
    a, b = points0[reached], points10[reached]
    lines += [
        "",
        f"At iteration {reached:,}:",
        "",
        ("| entropy weight | class agreement | worst digit | diversity | least diverse digit | digits FID | "
         "encoder held-out acc |"),
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for weight, run in ((0, a), (10, b)):
        lines.append(f"| {weight} | {100 * run['agreement']:.1f} % | {100 * run['worst_digit_agreement']:.0f} % | "
                     f"{run['diversity']:.2f} | {run['least_diverse_digit']:.2f} | {run['fid']:.1f} | "
                     f"{100 * run['encoder_heldout_acc']:.1f} % |")
    gain = (b["diversity"] - a["diversity"]) / a["diversity"]
    q_reads = b.get("q1_dims_read", 0) + b.get("q0_dims_read", 0) > 0
    if b["agreement"] < a["agreement"] - 0.05:
        verdict = "the class agreement is lost (more than 5 points lower) (**not reached**)"
    elif abs(gain) < MARGIN:
        verdict = f"diversities within {100 * MARGIN:.0f} % of each other, one seed: a tie at this budget, no verdict"
    else:
        verdict = (f"the entropy loss makes the samples {'more' if gain > 0 else 'less'} diverse by "
                   f"{100 * abs(gain):.0f} % at this budget, the class agreement kept "
                   f"(**{'reached' if gain > 0 else 'not reached'}**)")
    lines += ["", (f"StackedGAN's entropy loss at {reached:,} iterations: diversity {b['diversity']:.2f} with weight "
                   f"10 vs {a['diversity']:.2f} with 0, class agreement {100 * b['agreement']:.1f} % vs "
                   f"{100 * a['agreement']:.1f} %: {verdict}. Reached means: more diverse by "
                   f"{100 * MARGIN:.0f} % or more with weight 10, class agreement within 5 points of weight 0's."),
              ""]
    lines.append(
        "Q's error with weight 10 at this point: "
        + f"Q1 {b['q1_error']:.4f}, Q0 {b['q0_error']:.4f} (1/12 = 0.0833); entries of z read: "
        + f"{b.get('q1_dims_read', 0)} of z1's, {b.get('q0_dims_read', 0)} of z0's "
        + ("(Q explains at least half their variance): the Q heads read z back from G's output, as the paper's "
           "entropy loss means them to." if q_reads else
           "(none with half its variance explained): the Q heads do not read z back from G's output, although "
           "G's samples of one digit vary (the diversity above), z being all that varies among them. The "
           "entropy term thus stays near its floor (the weight x 1/12), and what weight 10 changed is not the "
           "paper's mechanism (Q recovering z): it may act through Q's term training D's shared layers, or be "
           "one seed's chance; this run does not tell them apart.")
        + " With weight 0 nothing trains Q: its error there is an untrained head's.")
    lines += ["", STACKED_CHECKS, ""]
    return lines


#: What was compared with the authors' code and checked (the numbers come from the runs above).
STACKED_CHECKS = (
    "Checked against the authors' code (xunhuang1995/SGAN `mnist/train_independent.py`, `train_joint.py`, "
    "`nn.py`), line by line: z1 and z0 are 50 each, U(0, 1); G1 concatenates z1 with the one-hot class at its "
    "input (dense 512, BN, ReLU, x2, dense 256 ReLU); G0 embeds z0 (dense 128, BN, ReLU) and concatenates it "
    "with h1 at its input; Q1 and Q0 are sigmoid heads on D1's and D0's last hidden layer; the entropy loss "
    "is mean (Q(G(z)) - z)^2 weighted 10 in both D's loss (training Q) and G's; the conditional losses "
    "(cross-entropy of E's classifier on G1's features, squared feature distance for G0) weighted 1; D's "
    "adversarial loss 0.5 (real + fake) binary cross-entropy, G's non-saturating; each G stepped on its own "
    "loss; Adam 1e-4, beta1 0.5, batch 100, one D then one G step. The same here. Differences: the authors "
    "load a pre-trained encoder (ours trains for the first iterations), their G0 is their own deconvolution "
    "stack ending in a sigmoid (ours the project's DCGAN G, tanh), D0 has three convolutions and a dense "
    "256 (ours the DCGAN D with a hidden layer in Q0), D's hidden units are ReLU/LeakyReLU with N(0, 0.02) "
    "initialisation (ours PyTorch's default), a fresh z is drawn for the D and for the G step (ours one "
    "per iteration), their samples use batch statistics (ours G's running statistics and its EMA), and their budget is 200 epochs of "
    "60,000 digits (120,000 iterations). "
    "tests/test_hierarchical.py checks that the entropy term's gradient reaches every parameter of its "
    "level's G (G0's z0 embedding included) and nothing of the other level, in independent and joint training, "
    "and that G1's features move with z1 at a fixed class and G0's images with z0 at fixed features.")


def section(runs: dict[str, Any], command: str) -> str:
    load = ", ".join(f"{value:.1f}" for value in load_average())
    lines = [
        "## Hierarchical generators (issue 27): LAPGAN vs DCGAN, StackedGAN's entropy loss",
        "",
        (f"Seed 0, one thread per run, nice'd, on a 2-core machine shared with other jobs (load when written: "
         f"{load}; fit seconds are wall times). Machine: {platform.machine()}. Each run is trained by "
         "a process of its own (`--only KEY`: `StackedGAN_entropy0` and `StackedGAN_entropy10` side by side, "
         "`real`, `DCGAN` and `LAPGAN` with `--steps` as in the command below), the section from their cache by "
         "`--report-only`."),
        "",
        *command_block(command),
        "",
        *pyramid_lines(runs),
        *stacked_lines(runs),
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="LAPGAN's and DCGAN's iterations")
    parser.add_argument("--stacked-steps", type=int, default=5000, help="StackedGAN's iterations (recipe: 5,000)")
    parser.add_argument("--encoder-steps", type=int, default=500, help="StackedGAN's encoder pre-training (recipe)")
    parser.add_argument("--joint-after", type=int, default=3000, help="StackedGAN's joint training from (recipe)")
    parser.add_argument("--every", type=int, default=500, help="StackedGAN measured and checkpointed every N")
    parser.add_argument("--only", default="", help="comma-separated run keys to train (the others from the cache)")
    parser.add_argument("--out", default=str(RESULTS_MD))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = load_runs(CACHE, {})
    stacked = {stacked_key(w): (lambda w=w: run_stacked(w, args.stacked_steps, args.encoder_steps, args.joint_after,
                                                        args.every)) for w in (0.0, 10.0)}
    jobs = {"LAPGAN": lambda: run_pyramid("LAPGAN", args.steps), "DCGAN": lambda: run_pyramid("DCGAN", args.steps),
            "real": reference_swd, **stacked}
    only = [key for key in args.only.split(",") if key]
    unknown = sorted(set(only) - set(jobs))
    if unknown:
        parser.error(f"--only: unknown run keys {unknown}; known: {', '.join(jobs)}")
    for key, job in jobs.items():
        if args.report_only or (only and key not in only):
            continue
        budget = args.stacked_steps if key in stacked else args.steps if key != "real" else 0
        complete = key in runs and runs[key]["steps"] == budget and runs[key].get("iteration", budget) == budget
        if complete and (key in stacked or "swd" in runs[key]) and (key != "real" or "subset" in runs[key]):
            continue
        started = time.perf_counter()
        result = job()
        print(f"{key}: { {k: v for k, v in result.items() if k != 'trajectory'} } "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        runs = save_run(CACHE, key, result)
    if only and not args.report_only:
        return  # one process of several: the section is written by a run without --only (or --report-only)
    runs = load_runs(CACHE, {})
    for weight in (0.0, 10.0):
        key, run = stacked_key(weight), runs.get(stacked_key(weight))
        if run and fill_q_readings(run, stacked_folder(weight, run["encoder_steps"], run["joint_after"], run["every"])):
            filled = {point["iteration"]: point for point in run["trajectory"]}
            runs = load_runs(CACHE, {})  # reread: a StackedGAN process may have saved a point meanwhile
            for point in runs[key]["trajectory"]:
                if "q1_dims_read" not in point and point["iteration"] in filled:
                    point.update({k: v for k, v in filled[point["iteration"]].items() if k.startswith("q")})
            fill_q_readings(runs[key], stacked_folder(weight, run["encoder_steps"], run["joint_after"], run["every"]))
            save_runs(runs, CACHE)
    quoted = [arg for arg in (sys.argv[1:] if argv is None else argv) if arg != "--report-only"]  # what made the runs
    replace_section(args.out, SECTION, section(runs, command_line(__file__, quoted)))
    print(f"wrote section {SECTION!r} of {args.out}")


if __name__ == "__main__":
    main()
