"""GAN's claim on MNIST5k (issue 26): the Parzen-window log-likelihood of held-out digits under G's samples,
against a generative model with no adversary.

Published (Goodfellow et al. 2014, Table 1): Parzen-window log-likelihood estimates of the MNIST test set
under 10,000 samples of each model, "adversarial nets" 225 +- 2 nats against a DBN's 138 +- 2, a stacked
CAE's 121 +- 1.6 and a deep GSN's 214 +- 1.1. The authors' estimator (goodfeli/adversarial, ``parzen_ll.py``):
10,000 samples, pixels in [0, 1], a Gaussian kernel whose width sigma is the best of
``numpy.logspace(-1, 0, 10)`` on 1,000 validation digits (MNIST training digits 50,000-60,000, kept out of
training), the mean log-likelihood of the test digits and its standard error.

Protocol here (``gan_lightning.evaluation.parzen``):

- the GAN recipe ``experiments/gan/mnist5k.yaml`` (MLP G and D, 28 px, batch 64) for its own budget
  (``--iterations``, default its ``max_steps``), seeds ``--seeds``, one thread, without EMA (raw G);
  ``--num-samples`` (10,000) samples each;
- the baseline with no adversary: a Gaussian with the 4,500 training digits' mean and covariance, full
  (rank-deficient: constant border pixels; drawn through the eigendecomposition) and restricted to its top 50
  principal components, the same number of samples, seeded; and the training digits themselves (all 4,500)
  as the kernel centres, the reference a model that stores its training set scores;
- every estimate in [0, 1] pixel space, the MNIST5k held-out 500 digits cut in two by the same seeded
  permutation (``split_validation``, seed 0): 250 validate sigma, 250 are scored; one sigma grid for every
  row, the authors' (10^(k/9)) extended by a decade each side (10^-2 ... 10^1, 28 values); a sigma at either
  end of the grid is flagged;
- verdict, one per budget in the cache (the recipe's first; ``--iterations N`` adds a budget): per seed, GAN's
  log-likelihood of each test digit minus the better Gaussian's (paired, the same 250 digits): **reached** when
  every seed's mean difference is above twice its standard error; **not reached (below)** when every seed's is
  below minus twice; otherwise **not reached (not separated)**.

Parzen estimates are a weak measure (Theis, van den Oord & Bethge 2016): far from the true log-likelihood in
784 dimensions, they can rank models in the opposite order, and storing the training set scores well.

    python benchmarks/gan_parzen.py [--iterations N] [--seeds 0,1] [--num-samples 10000] [--report-only]

The samples are G's in eval mode (BatchNorm running statistics), as ``sample()`` gives them.

Runs are cached in ``benchmarks/gan_parzen/results.json``; writes section ``gan_parzen`` of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import torch
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    build_mnist5k,
    command_block,
    fit_exactly,
    load_line,
    load_recipe,
    load_runs,
    mnist5k_data,
    quiet_lightning,
    replace_section,
    save_runs,
    split_tensors,
    training_command,
)

from gan_lightning.evaluation import parzen_log_likelihoods, parzen_window
from gan_lightning.evaluation.parzen import split_validation

OUT_DIR = BENCHMARKS / "gan_parzen"
CACHE = OUT_DIR / "results.json"
SECTION = "gan_parzen"
TITLE = "## GAN by its paper's measure: Parzen-window log-likelihood of held-out MNIST5k digits (issue 26)"
SIGMAS = [10.0 ** (k / 9) for k in range(-18, 10)]  # the authors' logspace(-1, 0, 10), a decade more each side
SPLIT_SEED = 0
SAMPLE_SEED = 1234
PCA_COMPONENTS = 50
PUBLISHED = ("Goodfellow et al. 2014, Table 1 (MNIST test set, 10,000 samples, 60,000 training digits): adversarial "
             "nets 225 ± 2, deep GSN 214 ± 1.1, DBN 138 ± 2, stacked CAE 121 ± 1.6 nats.")


# ----------------------------------------------------------------------------- data and models
def pixels(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (the data modules' and G's range) as rows of [0, 1] pixels (the authors' scale)."""
    return ((images.detach().float().cpu() + 1) / 2).flatten(1)


def digits() -> dict[str, torch.Tensor]:
    """MNIST5k at the GAN recipe's size, in [0, 1] pixels: the training digits and the held-out
    validation / test halves."""
    data = mnist5k_data("GAN")
    train, _ = split_tensors(data, "train")
    heldout, _ = split_tensors(data, "heldout")
    validation, test = split_validation(pixels(heldout), 0.5, SPLIT_SEED)
    return {"train": pixels(train), "validation": validation, "test": test}


def gaussian_samples(train: torch.Tensor, num: int, seed: int, components: int | None = None) -> torch.Tensor:
    """``num`` draws of N(mean, cov) of the rows of ``train`` (float64 covariance through its eigendecomposition,
    negative round-off eigenvalues set to 0); ``components``: only the top principal components' variance."""
    data = train.to(torch.float64)
    mean = data.mean(0)
    centred = data - mean
    values, vectors = torch.linalg.eigh(centred.T @ centred / (data.shape[0] - 1))
    values = values.clamp_min(0.0)
    if components is not None:
        values, vectors = values[-components:], vectors[:, -components:]
    normal = torch.randn(num, values.numel(), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (mean + (normal * values.sqrt()) @ vectors.T).float()


def gan_samples(iterations: int, seed: int, num: int) -> tuple[torch.Tensor, float]:
    """The GAN recipe trained ``iterations`` batches with ``seed``; ``num`` raw-G samples and the fit seconds."""
    import lightning as L

    quiet_lightning()
    L.seed_everything(seed, workers=False, verbose=False)
    model, data = build_mnist5k("GAN")
    seconds = fit_exactly(model, data, iterations, label="GAN")
    rng = torch.Generator().manual_seed(SAMPLE_SEED + seed)
    with torch.no_grad():
        samples = torch.cat([pixels(model.sample(min(1000, num - start), use_ema=False, rng=rng))
                             for start in range(0, num, 1000)])
    return samples, seconds


def estimate(centres: torch.Tensor, split: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The Parzen estimate with ``centres`` as kernel centres: sigma from the validation digits, the test digits'
    mean log-likelihood, its standard error and each test digit's value (for the paired verdict)."""
    fit = parzen_window(centres, split["validation"], split["test"], SIGMAS)
    sigma = fit["parzen_sigma"]
    per_digit = parzen_log_likelihoods(torch.cdist(split["test"].double(), centres.double()).pow(2), sigma,
                                       centres.shape[1])
    return {"log_likelihood": fit["parzen_log_likelihood"], "std_error": fit["parzen_std_error"], "sigma": sigma,
            "sigma_at_edge": sigma in (SIGMAS[0], SIGMAS[-1]), "num_centres": int(centres.shape[0]),
            "per_digit": [round(float(v), 4) for v in per_digit]}


# ----------------------------------------------------------------------------- verdict and report
def paired_difference(ours: list[float], theirs: list[float]) -> tuple[float, float]:
    """Mean and standard error of the per-digit differences ``ours - theirs`` (the same digits)."""
    if len(ours) != len(theirs) or len(ours) < 2:
        raise ValueError(f"paired_difference: needs two equally long lists of at least 2, got {len(ours)}, "
                         f"{len(theirs)}")
    differences = [a - b for a, b in zip(ours, theirs)]
    mean = sum(differences) / len(differences)
    variance = sum((d - mean) ** 2 for d in differences) / (len(differences) - 1)
    return mean, math.sqrt(variance / len(differences))


def verdict(differences: list[tuple[float, float]]) -> str:
    """From each seed's (mean difference, standard error): reached when every seed is above by more than twice
    its standard error, "not reached (below)" when every seed is below by as much, else not separated."""
    if not differences:
        raise ValueError("verdict: no seeds")
    if all(mean > 2 * error for mean, error in differences):
        return "reached"
    if all(mean < -2 * error for mean, error in differences):
        return "not reached (below)"
    return "not reached (not separated)"


def _row(name: str, what: str, result: dict[str, Any], seconds: str = "") -> str:
    edge = " (grid edge)" if result["sigma_at_edge"] else ""
    return (f"| {name} | {what} | {result['num_centres']:,} | {result['log_likelihood']:.1f} ± "
            f"{result['std_error']:.1f} | {result['sigma']:.3g}{edge} | {seconds} |")


def budget_words(iterations: int, recipe: int) -> str:
    if iterations == recipe:
        return f"the recipe's {recipe:,} iterations"
    return f"{iterations:,} iterations ({iterations / recipe:.3g} x the recipe's {recipe:,})"


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    """The section: every budget in the cache with all of ``args.seeds`` at ``args.num_samples``, recipe's first."""
    recipe = load_recipe("GAN", "mnist5k")["max_steps"]
    refs = results.get("references", {})
    chosen = [run for run in results.get("runs", {}).values()
              if run["seed"] in args.seeds and run["num_samples"] == args.num_samples]
    budgets = sorted({run["iterations"] for run in chosen}, key=lambda it: (it != recipe, it))
    budgets = [it for it in budgets if {run["seed"] for run in chosen if run["iterations"] == it} >= set(args.seeds)]
    lines = [
        TITLE,
        "",
        ("GAN (Goodfellow et al. 2014) against generative models with no adversary, by the paper's Table 1 measure: the "
         "Parzen-window log-likelihood (nats per digit, higher is better) of held-out MNIST5k digits under each "
         "model's samples. `experiments/gan/mnist5k.yaml` (MLP G and D, 28 px, batch 64, Adam 2e-4; the paper: "
         f"maxout networks, SGD) for {' and for '.join(budget_words(it, recipe) for it in budgets) or 'no budget yet'}, "
         f"seeds {', '.join(map(str, args.seeds))}, one thread per run, raw G (no EMA, eval mode), "
         f"{args.num_samples:,} samples per model. Pixels in [0, 1] (the authors' scale); the 500 held-out "
         "digits cut in two by a seeded permutation: 250 choose sigma, 250 are scored (the authors: 1,000 validation "
         "digits, the 10,000 test digits). One sigma grid for every row: the authors' `logspace(-1, 0, 10)` steps "
         "extended a decade each side (0.01 to 10, 28 values). The Gaussians use the 4,500 training digits' mean and "
         f"covariance (full, or its top {PCA_COMPONENTS} principal components)."),
        "",
        "| model | what | kernel centres | log-likelihood ± s.e. | sigma | fit seconds |",
        "|---|---|---:|---:|---:|---:|",
    ]
    by_budget = {it: sorted((run for run in chosen if run["iterations"] == it), key=lambda run: run["seed"])
                 for it in budgets}
    for it, runs in by_budget.items():
        for run in runs:
            lines.append(_row(f"GAN, seed {run['seed']}", f"{it:,} iterations, raw G", run["estimate"],
                              f"{run['fit_seconds']:.0f}"))
    gaussians = {"gaussian_full": "Gaussian, full covariance", "gaussian_pca": f"Gaussian, top {PCA_COMPONENTS} "
                 "principal components"}
    for key, name in gaussians.items():
        if key in refs:
            lines.append(_row(name, "no adversary: the training digits' mean and covariance", refs[key]))
    if "training_digits" in refs:
        lines.append(_row("training digits", "the 4,500 training digits as centres (a model that stores them)",
                          refs["training_digits"]))
    if by_budget and all(key in refs for key in gaussians):
        baseline_key = max(gaussians, key=lambda key: refs[key]["log_likelihood"])
        lines.append("")
        for it, runs in by_budget.items():
            differences = [paired_difference(run["estimate"]["per_digit"], refs[baseline_key]["per_digit"])
                           for run in runs]
            per_seed = "; ".join(f"seed {run['seed']}: {mean:+.1f} ± {error:.1f}"
                                 for run, (mean, error) in zip(runs, differences))
            lines.append(f"- At {budget_words(it, recipe)}: GAN minus the better Gaussian ({gaussians[baseline_key]}), "
                         f"paired over the 250 scored digits, mean ± s.e.: {per_seed}. Verdict (GAN's samples give "
                         f"the held-out digits a higher Parzen log-likelihood than a Gaussian fit with no adversary, "
                         f"every seed beyond twice the paired standard error): **{verdict(differences)}**.")
    lines += [
        "",
        (f"PUBLISHED: {PUBLISHED} Those are on 784-pixel MNIST with 10,000 test digits and 60,000 training digits; "
         "here 250 test digits and 4,500 training digits, so only the order of the rows compares."),
        "",
        ("Parzen-window estimates are a weak measure (Theis, van den Oord & Bethge 2016, \"A note on the evaluation of "
         "generative models\"): in 784 dimensions they are far from the true log-likelihood, can rank models in the "
         "opposite order of their likelihoods, and a model that only stores its training digits scores well (the "
         "training-digits row). The section `metrics_chapter` compares them with AIS."),
        "",
        load_line(),
        "",
    ]
    commands = list(dict.fromkeys(run.get("command", "python benchmarks/gan_parzen.py")
                                  for it in budgets for run in by_budget[it]))
    lines += command_block("\n".join(commands or [training_command(__file__)]))
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=None, help="GAN iterations (default: the recipe's max_steps)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--num-samples", type=int, default=10000, help="samples per model (the authors': 10,000)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.iterations = args.iterations or load_recipe("GAN", "mnist5k")["max_steps"]
    if args.num_samples < 1:
        parser.error(f"--num-samples must be >= 1, got {args.num_samples}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    results = load_runs(CACHE, empty={})
    if not args.report_only:
        torch.set_num_threads(1)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        split = digits()
        references = results.setdefault("references", {})
        if references.get("num_samples") != args.num_samples:
            started = time.perf_counter()
            references.clear()
            references["gaussian_full"] = estimate(gaussian_samples(split["train"], args.num_samples, SAMPLE_SEED), split)
            references["gaussian_pca"] = estimate(
                gaussian_samples(split["train"], args.num_samples, SAMPLE_SEED, PCA_COMPONENTS), split)
            references["training_digits"] = estimate(split["train"], split)
            references["num_samples"] = args.num_samples
            references["seconds"] = time.perf_counter() - started
            save_runs(results, CACHE, drop=())
        runs = results.setdefault("runs", {})
        for seed in args.seeds:
            key = f"GAN/seed{seed}/it{args.iterations}/n{args.num_samples}"
            if key in runs:
                continue
            samples, seconds = gan_samples(args.iterations, seed, args.num_samples)
            runs[key] = {"seed": seed, "iterations": args.iterations, "num_samples": args.num_samples,
                         "fit_seconds": seconds, "estimate": estimate(samples, split),
                         "command": training_command(__file__, argv)}
            save_runs(results, CACHE, drop=())
            print(f"{key}: {runs[key]['estimate']['log_likelihood']:.1f} nats ({seconds:.0f} s)", flush=True)
    text = report(results, args)
    replace_section(RESULTS_MD, SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
