"""Findings for two rows that fail today (issue 16): InfoGAN's cluster purity and BiGAN's encoder.

Both rows of ``benchmarks/conditional.py`` missed their paper's claim: InfoGAN's categorical code
reached 62.2 % purity after 6,000 iterations (section ``conditional_infogan``; the paper: ~95 %,
5 % error), BiGAN's trained encoder 88.0 % 5-NN accuracy against 85.4 % for the same encoder at
its random initial weights (section ``conditional_bigan``, McNemar p = 0.11). This script asks
*how the numbers move with the budget, the seed and the authors' recipe*: each run is a model
trained from its MNIST5k recipe (``experiments/<model>/mnist5k.yaml``, 32 px, batch 64, the
generator EMA 0.999 of the recipes) with a probe that measures it at fixed iterations during
training (``--every``), so one run gives a learning curve at the cost of one run.

- InfoGAN runs: the recipe, and the recipe with the latent spec and loss weights of the authors'
  MNIST code (``AUTHORS_INFOGAN``: U[-1, 1] noise, fixed-std continuous codes weighted 1), seeds 0
  and 1 of each defined (the committed cache has the recipe's seeds 0 and 1 and the authors' seed 0:
  the CPU budget of issue 16's round; arms are compared at the shortest run's length). Probe: Q's categorical code of the 500 held-out digits (and of the 4,500
  training digits), each code value mapped to its majority digit; purity, how many digits are
  some value's majority, and where each unclaimed digit went.
- InfoGAN at the authors' settings (issue 26): run ``infogan_authorsnet_s0``, arm ``authorsnet``,
  ``experiments/infogan/mnist5k_authors.yaml``: their MNIST networks (``architecture: authors``), latent spec
  and code weights, 28 px, batch 128, their 5,000 iterations, no generator EMA (theirs has none; the probe
  reads Q, which it does not touch); its learning curve to 5,000 with the slope of its last 1,000 iterations
  and the straight line to 95 % stated. ``--checkpoints DIR`` makes a run resumable: at every probe its
  curve so far goes to the cache (``"partial": true``) and its checkpoint to ``DIR/<run>/``; rerunning the
  same command continues from there.
- BiGAN run: the recipe, seed 0. Probe: E(x) of the held-out digits classified by the training
  digits' E(x): 5-NN on standardised codes (``conditional.py``'s measure, ``harness.knn_predictions``),
  1-NN Euclidean on the raw codes (the authors' ``NNC_e``, ``lib/metrics.py`` of jeffdonahue/bigan) and
  1-NN on E's last hidden layer (their ``NNC_e-``). The probe at iteration 0 is the random encoder.

Each run is cached in ``benchmarks/encoders_findings/results.json`` when it ends, so runs can be
made one at a time (``--runs``) and ``--report-only`` rebuilds both sections (``findings_infogan``,
``findings_bigan`` of ``--out``) from the cache. Everything runs on one thread.

    python benchmarks/encoders_findings.py --runs infogan_recipe_s0 [--infogan-steps 1500] [--every 250]
    python benchmarks/encoders_findings.py --runs infogan_authorsnet_s0 --infogan-steps 5000 --every 500 --checkpoints runs/encoders_findings
    python benchmarks/encoders_findings.py --report-only
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from harness import (BENCHMARKS, RESULTS_MD, build_mnist5k, cluster_purity, command_line, fit_exactly, in_batches,
                     infogan_codes, kept_checkpoints, knn_predictions, load_average, load_runs, paired_comparison,
                     quiet_lightning, replace_section, save_runs, split_tensors)

CACHE = BENCHMARKS / "encoders_findings" / "results.json"
HELDOUT_DIGITS = 500  # MNIST5k's held-out split
PURITY_CLAIM = 0.95  # the paper: 5 % error when each code value is matched to a digit
# The authors' MNIST latent spec and code weights (openai/InfoGAN, launchers/run_mnist_exp.py and
# infogan/misc/distributions.py): noise Uniform(62); codes Categorical(10) and two Uniform(1,
# fix_std=True), all weighted by info_reg_coeff = 1. Fixed std 1 makes each continuous term
# 0.5 (c - mean)^2, summed over the two codes = "mse" (mean over codes) at weight 1.
AUTHORS_INFOGAN = {"noise_distribution": "uniform", "continuous_loss": "mse", "continuous_weight": 1.0}
RUNS: dict[str, dict[str, Any]] = {
    "infogan_recipe_s0": {"model": "InfoGAN", "seed": 0, "arm": "recipe", "overrides": {}},
    "infogan_recipe_s1": {"model": "InfoGAN", "seed": 1, "arm": "recipe", "overrides": {}},
    "infogan_authors_s0": {"model": "InfoGAN", "seed": 0, "arm": "authors", "overrides": AUTHORS_INFOGAN},
    "infogan_authors_s1": {"model": "InfoGAN", "seed": 1, "arm": "authors", "overrides": AUTHORS_INFOGAN},
    "bigan_recipe_s0": {"model": "BiGAN", "seed": 0, "arm": "recipe", "overrides": {}},
    # the authors' networks, latent spec, code weights, 28 px, batch 128 and 5,000 iterations, no EMA
    # (theirs has none; the probe reads Q, which EMA does not touch): experiments/infogan/mnist5k_authors.yaml
    "infogan_authorsnet_s0": {"model": "InfoGAN", "seed": 0, "arm": "authorsnet", "kind": "mnist5k_authors",
                              "ema": False, "overrides": {}},
    "infogan_authorsnet_s1": {"model": "InfoGAN", "seed": 1, "arm": "authorsnet", "kind": "mnist5k_authors",
                              "ema": False, "overrides": {}},
}
ARM_NAMES = {"recipe": "recipe (`experiments/infogan/mnist5k.yaml`: N(0, I) noise, continuous weight 0.1)",
             "authors": "recipe + the authors' latent spec (U[-1, 1] noise, continuous weight 1, fixed std)",
             "authorsnet": "the authors' MNIST run (`experiments/infogan/mnist5k_authors.yaml`: their networks, "
                           "latent spec and code weights, 28 px, batch 128, 5,000 iterations)"}
CURVE_TAIL = 1000  # the authors'-budget curve's slope is taken over its last this many iterations

# Earlier measurements of the same recipe and seed, quoted (not rerun) for the curve's far end.
EARLIER_INFOGAN = [(4000, 0.590, "`gan_lightning/models/infogan.py` docstring (recipe, seed 0)"),
                   (6000, 0.622, "RESULTS.md section `conditional_infogan` (recipe, seed 0)")]
EARLIER_BIGAN = (1500, 0.880, 0.854, 0.11, "RESULTS.md section `conditional_bigan` (recipe, seed 0)")
# The authors' own BiGAN run on permutation-invariant MNIST (README.md of jeffdonahue/bigan, the log
# of train_mnist.sh): epoch -> (1-NN % on E(x), 1-NN % on E's last hidden layer); 10,000 validation
# digits against a memory of training digits; epoch 0 is before any update (random E).
# 50,000 training digits (data.py: mnist_with_valid_set) at batch 128: 391 iterations an epoch.
AUTHORS_BIGAN_LOG = {0: (91.50, 96.84), 1: (89.94, 92.56), 25: (95.41, 96.28), 200: (95.92, 97.14),
                     400: (92.10, 97.35)}
AUTHORS_BIGAN_ITERS_PER_EPOCH = math.ceil(50000 / 128)


# ----------------------------------------------------------------------------- probes
def infogan_probe(model, sets) -> dict[str, Any]:
    """Purity of Q's categorical code on the held-out and training digits; unclaimed digits."""
    out = {}
    for split in ("heldout", "train"):
        images, labels = sets[split]
        codes = infogan_codes(model, images)
        purity = cluster_purity(codes, labels, model.categorical_dim)
        out[split] = {"purity": purity["purity"], "digits_covered": purity["digits_covered"]}
        if split == "heldout":
            claimed = set(purity["mapping"].values())
            # each digit no code value claims: the value most of its examples go to, and that value's digit
            out[split]["unclaimed"] = {
                str(d): purity["mapping"].get(int(torch.bincount(codes[labels == d], minlength=10).argmax()))
                for d in range(10) if d not in claimed}
    return out


def one_nn(memory: torch.Tensor, memory_labels: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """1-NN, plain Euclidean (the authors' ``nnc_score``): predicted labels of ``queries``."""
    return memory_labels[torch.cdist(queries, memory).argmin(dim=1)]


def bigan_probe(model, sets) -> dict[str, Any]:
    (train_x, train_y), (held_x, held_y) = sets["train"], sets["heldout"]
    encoder = model.encoder
    codes_train, codes_held = in_batches(model.encode, train_x), in_batches(model.encode, held_x)
    hidden = lambda x: encoder.net.features(x).flatten(1)  # noqa: E731  (E's last layer before the code)
    hidden_train, hidden_held = in_batches(hidden, train_x), in_batches(hidden, held_x)
    knn5 = knn_predictions(codes_train, train_y, codes_held) == held_y
    nn1 = one_nn(codes_train, train_y, codes_held) == held_y
    nn1_hidden = one_nn(hidden_train, train_y, hidden_held) == held_y
    bits = lambda t: "".join("1" if v else "0" for v in t.tolist())  # noqa: E731
    return {"knn5": float(knn5.float().mean()), "nn1": float(nn1.float().mean()),
            "nn1_hidden": float(nn1_hidden.float().mean()), "knn5_bits": bits(knn5), "nn1_bits": bits(nn1)}


PROBES = {"InfoGAN": infogan_probe, "BiGAN": bigan_probe}


def probe_callback(at: set[int], measure, sets, record: dict[int, Any], after=None):
    """A Lightning callback measuring the model (eval mode, no grad) at the iterations ``at``;
    ``after(step)``, if given, runs after each measure (e.g. to cache the curve so far)."""
    import lightning as L

    class Probe(L.Callback):
        seconds = 0.0

        def _measure(self, trainer, module) -> None:
            step = trainer.global_step
            if step not in at or step in record:
                return
            started, was_training = time.perf_counter(), module.training
            module.eval()
            with torch.no_grad():
                record[step] = measure(module, sets)
            module.train(was_training)
            Probe.seconds += time.perf_counter() - started
            if after is not None:
                after(step)

        def on_train_start(self, trainer, module):
            self._measure(trainer, module)

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self._measure(trainer, module)

    return Probe()


def run_one(name: str, steps: int, every: int, keep_model: bool = False, cache: Path | None = None,
            checkpoints: Path | None = None, command: str = "") -> dict[str, Any]:
    """Train run ``name`` for ``steps`` iterations, probing it every ``every`` iterations (and at 0 and
    the end; ``every`` = 0: no probes at all). ``keep_model``: the trained model under "model".

    ``checkpoints`` (a folder; needs ``cache`` and ``every`` > 0): resumable. At every probe the run's curve
    so far goes to ``cache`` (``"partial": true``, ``steps`` the iterations reached, ``target_steps``) and a
    Lightning checkpoint to ``checkpoints/<name>/step=N.ckpt`` (the latest only); a later call continues
    from that checkpoint with the cached curve, its fit seconds added to the earlier ones."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from gan_lightning.callbacks import EMACallback

    spec = RUNS[name]
    quiet_lightning()
    L.seed_everything(spec["seed"], workers=False, verbose=False)
    model, data = build_mnist5k(spec["model"], spec.get("kind", "mnist5k"), **spec["overrides"])
    sets = {split: split_tensors(data, split) for split in ("train", "heldout")}
    at = set(range(0, steps + 1, every)) | {0, steps} if every > 0 else set()
    record: dict[int, Any] = {}
    resume, earlier = None, {"fit_seconds": 0.0, "probe_seconds": 0.0}
    callbacks: list[Any] = [EMACallback(decay=0.999)] if spec.get("ema", True) else []
    started = time.perf_counter()
    probe_type: list[Any] = []

    def result(reached: int, fit_seconds: float) -> dict[str, Any]:
        return {**spec, "name": name, "steps": reached, "every": every, "fit_seconds": fit_seconds,
                "probe_seconds": earlier["probe_seconds"] + (probe_type[0].seconds if probe_type else 0.0),
                "curve": {str(k): record[k] for k in sorted(record)}, "load_end": load_average()[0]}

    after = None
    if checkpoints is not None and cache is not None and every > 0:
        folder = checkpoints / name
        cached = load_runs(cache).get(name)
        reached = cached["steps"] if cached and cached.get("partial") else 0  # a checkpoint past it has no curve
        kept = {s: p for s, p in kept_checkpoints(folder).items() if s <= min(steps, reached)}
        if kept:
            start = max(kept)
            resume = kept[start]
            record.update({int(k): v for k, v in cached["curve"].items() if int(k) <= start})
            earlier = {key: cached[key] for key in earlier}
            print(f"{name}: resuming from {resume} ({start} iterations)", flush=True)

        def after(step: int) -> None:  # the hook of a resumable run: the curve so far to the cache
            if step == 0 or step == steps:
                return
            partial = {**result(step, earlier["fit_seconds"] + time.perf_counter() - started),
                       "partial": True, "target_steps": steps}
            runs = load_runs(cache)
            runs[name] = partial
            runs.setdefault("_commands", {})[name] = command
            save_runs(runs, cache, sort_keys=False)

        callbacks.append(ModelCheckpoint(dirpath=folder, filename="{step}", every_n_train_steps=every, save_top_k=1))
    probe = probe_callback(at, PROBES[spec["model"]], sets, record, after)
    probe_type.append(type(probe))
    fit_seconds = earlier["fit_seconds"] + fit_exactly(model, data, steps, [*callbacks, probe], name, resume)
    out = result(steps, fit_seconds)
    return {**out, "model": model} if keep_model else out


# ----------------------------------------------------------------------------- verdicts
def infogan_verdict(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best purity, the spread over seeds within an arm and the gap between arms, all at the
    common budget (the shortest run's length: every run is probed there)."""
    common = min((r["steps"] for r in runs), default=0)
    ends = {(r["arm"], r["seed"]): r["curve"][str(common)]["heldout"]["purity"] for r in runs}
    best = max(ends.values()) if ends else math.nan
    by_arm = {arm: [v for (a, _), v in ends.items() if a == arm] for arm in {a for a, _ in ends}}
    seeds_spread = {arm: max(values) - min(values) for arm, values in by_arm.items() if len(values) > 1}
    arm_gap = {seed: ends[("authors", seed)] - ends[("recipe", seed)]
               for (_, seed) in ends if ("authors", seed) in ends and ("recipe", seed) in ends}
    authorsnet_gap = {seed: ends[("authorsnet", seed)] - ends[("recipe", seed)]
                      for (arm, seed) in ends if arm == "authorsnet" and ("recipe", seed) in ends}
    at_budget = {r["seed"]: authors_budget(r) for r in runs if r["arm"] == "authorsnet"}
    reached = best >= PURITY_CLAIM or any(b["purity"] >= PURITY_CLAIM for b in at_budget.values())
    pairs = [(ends[("authors", seed)], ends[("recipe", seed)]) for seed in arm_gap]
    standard_error = max((math.sqrt((a * (1 - a) + b * (1 - b)) / HELDOUT_DIGITS) for a, b in pairs), default=0.0)
    noise = max([2 * standard_error, *seeds_spread.values()])
    return {"best": best, "reached": reached, "seed_spread": seeds_spread, "arm_gap": arm_gap, "common_steps": common, "noise": noise,
            "authorsnet_gap": authorsnet_gap, "at_budget": at_budget, "text": "reached" if reached else "not reached"}


def authors_budget(run: dict[str, Any]) -> dict[str, Any]:
    """An ``authorsnet`` run at the end of its curve: purity, iterations (and the target when partial), the
    slope over its last ``CURVE_TAIL`` iterations (purity per 1,000 iterations, 0.05 = 5 points) and the iterations a straight line at that
    slope needs to reach the paper's purity (inf when it does not climb; 0 when reached)."""
    steps = run["steps"]
    purity = run["curve"][str(steps)]["heldout"]["purity"]
    back = str(steps - CURVE_TAIL)
    slope = (purity - run["curve"][back]["heldout"]["purity"]) / CURVE_TAIL * 1000 if back in run["curve"] else math.nan
    needed = 0.0 if purity >= PURITY_CLAIM else (PURITY_CLAIM - purity) / slope * 1000 if slope > 0 else math.inf
    peak_step, peak = max(((int(k), p["heldout"]["purity"]) for k, p in run["curve"].items()), key=lambda t: (t[1], -t[0]))
    return {"steps": steps, "purity": purity, "target": run.get("target_steps", steps), "partial": bool(run.get("partial")),
            "slope": slope, "needed": needed, "peak": peak, "peak_step": peak_step}


def purity_se(purity: float) -> float:
    """The binomial standard error of a purity measured on the held-out digits."""
    return math.sqrt(purity * (1 - purity) / HELDOUT_DIGITS)


def bigan_deltas(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Per probe: trained minus random (the iteration-0 probe) on each measure, McNemar on 5-NN and 1-NN."""
    curve = run["curve"]
    random = curve["0"]
    rows = []
    for step, point in curve.items():
        rows.append({"step": int(step), **{k: point[k] for k in ("knn5", "nn1", "nn1_hidden")},
                     "delta_knn5": point["knn5"] - random["knn5"], "delta_nn1": point["nn1"] - random["nn1"],
                     "delta_hidden": point["nn1_hidden"] - random["nn1_hidden"],
                     "mcnemar_knn5": paired_comparison(_bits(point["knn5_bits"]), _bits(random["knn5_bits"])),
                     "mcnemar_nn1": paired_comparison(_bits(point["nn1_bits"]), _bits(random["nn1_bits"]))})
    return sorted(rows, key=lambda r: r["step"])


def _bits(text: str) -> torch.Tensor:
    return torch.tensor([c == "1" for c in text])


def bigan_verdict(run: dict[str, Any]) -> dict[str, Any]:
    """"reached" only when trained E beats random E significantly (McNemar p < 0.05) on 5-NN at the end."""
    end = bigan_deltas(run)[-1]
    significant = end["delta_knn5"] > 0 and end["mcnemar_knn5"]["p_value"] < 0.05
    return {"end": end, "reached": significant, "text": "reached" if significant else "not reached"}


# ----------------------------------------------------------------------------- report
def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def infogan_section(runs: list[dict[str, Any]], commands: list[str]) -> str:
    order = {"recipe": 0, "authors": 1, "authorsnet": 2}
    runs = sorted(runs, key=lambda r: (order.get(r["arm"], 3), r["seed"]))
    steps = sorted({int(s) for r in runs for s in r["curve"]})
    verdict = infogan_verdict(runs)
    head = "| Arm | Seed | " + " | ".join(f"it {s}" for s in steps) + " | digits claimed (end) | unclaimed digit -> digit of the value it went to | train-split purity (end) |"
    lines = [head, "|" + "---|" * (len(steps) + 5)]
    for r in runs:
        end = r["curve"][str(r["steps"])]
        cells = [_pct(r["curve"][str(s)]["heldout"]["purity"]) if str(s) in r["curve"] else "" for s in steps]
        unclaimed = ", ".join(f"{d} -> {v}" for d, v in end["heldout"]["unclaimed"].items()) or "none"
        lines.append(f"| {r['arm']} | {r['seed']} | " + " | ".join(cells)
                     + f" | {end['heldout']['digits_covered']} | {unclaimed} | {_pct(end['train']['purity'])} |")
    fits = ", ".join(f"{r['name']} {r['fit_seconds']:.0f} s (probes {r['probe_seconds']:.0f} s)" for r in runs)
    spread = "; ".join(f"{arm}: {100 * v:.1f} points" for arm, v in sorted(verdict["seed_spread"].items()))
    gap = "; ".join(f"seed {s}: {100 * v:+.1f} points" for s, v in sorted(verdict["arm_gap"].items()))
    net_gap = "; ".join(f"seed {s}: {100 * v:+.1f} points" for s, v in sorted(verdict["authorsnet_gap"].items()))
    earlier = "; ".join(f"{it} iterations: {_pct(p)} ({src})" for it, p, src in EARLIER_INFOGAN)
    small = [r for r in runs if r["arm"] != "authorsnet"]
    nets = [r for r in runs if r["arm"] == "authorsnet"]
    budget = ", ".join(sorted({f"{r['steps']:,}" for r in small}))
    nets_budget = ", ".join(dict.fromkeys(_reached_text(verdict["at_budget"][r["seed"]]) for r in nets))
    here_length = (f"{budget} iterations a run (CPU budget)" if small else "")
    if nets:
        here_length += ("; " if here_length else "") + f"arm `authorsnet`: 128, {nets_budget}"
    arms = "\n".join(f"  - `{arm}`: {ARM_NAMES[arm]}" for arm in order if any(r["arm"] == arm for r in runs))
    every = ", ".join(f"{arm} every {e}" for arm, e in sorted({(r["arm"], r["every"]) for r in runs}, key=lambda t: order.get(t[0], 3)))
    max_purity = max((p["heldout"]["purity"] for r in runs for p in r["curve"].values()), default=math.nan)
    net_row = "arm `authorsnet`: theirs (`architecture: authors`), 28 px, tanh on [-1, 1] for their sigmoid on [0, 1]"
    return f"""## InfoGAN's cluster purity: budget, seed and the authors' recipe (issues 16, 26)

Written by `benchmarks/encoders_findings.py`; do not edit by hand. Commands (from the repository root;
each run is cached in `benchmarks/encoders_findings/results.json` when it ends; a run with `--checkpoints`
also at every probe, and continues from its last checkpoint when rerun):

```sh
{chr(10).join(commands)}
```

**Compared with the authors' code** (github.com/openai/InfoGAN: `launchers/run_mnist_exp.py`,
`infogan/models/regularized_gan.py`, `infogan/algos/infogan_trainer.py`, `infogan/misc/distributions.py`,
`infogan/misc/custom_ops.py`, `infogan/misc/datasets.py`):

| What | Authors' MNIST code | Ours (`experiments/infogan/mnist5k.yaml`) | Here |
|---|---|---|---|
| Q shares D's body | yes: Q = FC 128 + BN + lReLU on D's last hidden layer | yes: FC 128 + BN + lReLU on D's conv features | {"arm `authorsnet`: on D's FC-1024 layer, as theirs" if nets else "same"} |
| D body / G | conv 64 - conv 128 (BN) - FC 1024 (BN), leaky slope 0.01; G: FC 1024 (BN) - FC 7x7x128 (BN) - deconv 64 (BN) - deconv 1, all 4x4 stride 2, sigmoid, 28 px | DCGAN convs of width 32 (32-64-128 channels, 4x4 maps, no FC 1024), slope 0.2; tanh, 32 px | {net_row if nets else "not changed (cost)"} |
| Information term | categorical CE + continuous Gaussian NLL with std fixed to 1, `info_reg_coeff` 1 for both, on D (with Q) and on G | CE + fixed-std squared error weighted **0.1**, on D and G | arm{"s `authors`, `authorsnet`" if nets else " `authors`"}: weight 1 |
| Noise z | **U[-1, 1]^62** | N(0, I)^62 | arm{"s `authors`, `authorsnet`" if nets else " `authors`"}: U[-1, 1] (`noise_distribution="uniform"`) |
| Codes | 1 x Categorical(10), 2 x U[-1, 1] | same | same |
| Adam | lr D 2e-4, G 1e-3, beta1 0.5 | same | same |
| Batch, length | 128; 50 "epochs" x 100 updates = **5,000 iterations**, 640,000 images (11.6 passes over TF's 55,000 training digits) | 64; 6,000 iterations, 384,000 images (85 passes over 4,500 digits) | {here_length} |
| Training digits | TF's 55,000 | the 4,500 of MNIST5k (500 held out) | same as ours |

- Arms:
{arms}
- Runs: {len(runs)} (arm, seed) pairs below; probed {every} iterations;
  purity of Q's categorical code on the 500 held-out digits (each code value -> its majority digit).
  Fit seconds (one thread, Linux {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs, niced): {fits}.
- The same recipe and seed 0 measured earlier at longer budgets, by the code of commit 50ce439 or before (the data sampler
  and the training loop have changed since, so those runs drew other batches): {earlier}.
- At {verdict['common_steps']:,} iterations (every run's probe): spread between the seeds, per arm: {spread or "n/a"}; authors' arm minus recipe, same seed: {gap or "n/a"}; authorsnet arm minus recipe, same seed: {net_gap or "n/a"}.

Held-out purity by iteration:

{chr(10).join(lines)}

**Verdict: {verdict['text']}** (the paper's ~95 %; best purity at {verdict['common_steps']:,} iterations {_pct(verdict['best'])}, best anywhere in these runs {_pct(max_purity)}). {infogan_cause(runs, verdict)}
"""


def _reached_text(at: dict[str, Any]) -> str:
    """``5,000 iterations`` or ``2,500 of its 5,000 iterations, partial (rerun, it goes on from its checkpoint)``."""
    if at["partial"]:
        return f"{at['steps']:,} of its {at['target']:,} iterations, partial (rerun, it goes on from its checkpoint)"
    return f"{at['steps']:,} iterations"


def authorsnet_curve(runs: list[dict[str, Any]], verdict: dict[str, Any]) -> str:
    """The authors'-budget learning curve in words, with its straight-line extrapolation."""
    parts = []
    for r in runs:
        if r["arm"] != "authorsnet":
            continue
        at = verdict["at_budget"][r["seed"]]
        curve = ", ".join(f"{int(s):,}: {_pct(p['heldout']['purity'])}" for s, p in sorted(r["curve"].items(), key=lambda t: int(t[0])))
        text = (f"Learning curve at the authors' settings (seed {r['seed']}, {_reached_text(at)}; the authors' "
                f"budget: {at['target']:,}), held-out purity: {curve}.")
        if at["peak_step"] != at["steps"]:
            text += (f" Its best probe: {_pct(at['peak'])} at {at['peak_step']:,} iterations "
                     f"({100 * (PURITY_CLAIM - at['peak']):.1f} points below 95 %, where one standard error of a purity "
                     f"on {HELDOUT_DIGITS} digits is {100 * purity_se(PURITY_CLAIM):.1f} points); it ends "
                     f"{100 * (at['peak'] - at['purity']):.1f} points below it.")
        if at["purity"] >= PURITY_CLAIM:
            text += f" It reaches the paper's {_pct(PURITY_CLAIM)}."
        elif math.isnan(at["slope"]):
            text += f" Too short for a slope over {CURVE_TAIL:,} iterations."
        elif at["slope"] <= 0:
            text += (f" Over its last {CURVE_TAIL:,} iterations it moves {100 * at['slope']:+.1f} points per 1,000: no straight "
                     "line from there reaches 95 %.")
        else:
            text += (f" Over its last {CURVE_TAIL:,} iterations it climbs {100 * at['slope']:.1f} points per 1,000: a straight "
                     f"line would reach 95 % after at least {at['needed']:,.0f} more iterations (at least: the curve flattens), "
                     f"{at['steps'] + at['needed']:,.0f} in all.")
        parts.append(text)
    return " ".join(parts)


def infogan_cause(runs: list[dict[str, Any]], verdict: dict[str, Any]) -> str:
    """What the numbers say about seed, recipe, the authors' networks and budget."""
    parts = []
    spread = verdict["seed_spread"]
    if spread:
        parts.append(f"Seed: at {verdict['common_steps']:,} iterations the two seeds are " + ", ".join(
            f"{100 * v:.1f} points apart ({arm})" for arm, v in sorted(spread.items())) + ".")
    noise = 100 * verdict["noise"]
    if verdict["arm_gap"]:
        gaps = [100 * v for _, v in sorted(verdict["arm_gap"].items())]
        size = "within" if max(abs(g) for g in gaps) <= noise else "beyond"
        parts.append(f"Recipe: at {verdict['common_steps']:,} iterations the authors' latent spec moves the purity by "
                     + " / ".join(f"{g:+.1f}" for g in gaps) + f" points (seed {' / '.join(str(k) for k in sorted(verdict['arm_gap']))}), "
                     f"{size} the noise of this comparison ({noise:.1f} points: the larger of the seed spread and twice the "
                     f"standard error of a difference of two purities on {HELDOUT_DIGITS} digits).")
    net_gaps = verdict["authorsnet_gap"]
    if net_gaps:
        gaps = [100 * v for _, v in sorted(net_gaps.items())]
        size = "within" if max(abs(g) for g in gaps) <= noise else "beyond"
        parts.append(f"Networks: at {verdict['common_steps']:,} iterations the authors' networks, batch 128 (twice the "
                     "images an iteration) and 28 px, with their latent spec, move the purity by " + " / ".join(f"{g:+.1f}" for g in gaps)
                     + f" points over the recipe (seed {' / '.join(str(k) for k in sorted(net_gaps))}), {size} that noise.")
    curve = authorsnet_curve(runs, verdict)
    if curve:
        parts.append(curve)
    base = [r for r in runs if r["arm"] == "recipe" and r["seed"] == 0]
    if base:
        r = base[0]
        start = r["curve"][str(r["steps"])]["heldout"]["purity"]
        (it_a, p_a, _), (it_b, p_b, _) = EARLIER_INFOGAN
        slope = (p_b - p_a) / (it_b - it_a) * 1000
        needed = (PURITY_CLAIM - p_b) / slope * 1000 if slope > 0 else math.inf
        parts.append(f"Budget: the recipe's seed 0 is at {_pct(start)} after {r['steps']:,} iterations, "
                     f"{_pct(p_a)} after {it_a:,} and {_pct(p_b)} after {it_b:,}: {100 * slope:.1f} points per 1,000 "
                     f"iterations at the end, so a straight line would need at least {needed:,.0f} more iterations to 95 % "
                     f"(at least: the curve flattens).")
    merged = [(r["arm"], r["seed"], r["curve"][str(r["steps"])]["heldout"]["unclaimed"]) for r in runs]
    parts.append("Unclaimed digits at the end (digit -> the digit of the code value most of its examples go to): "
                 + "; ".join(f"{arm} seed {seed}: " + (", ".join(f"{d} -> {v}" for d, v in u.items()) or "none")
                             for arm, seed, u in merged) + ".")
    if not verdict["reached"]:
        parts.append(infogan_not_reached(verdict))
    return " ".join(parts)


def infogan_not_reached(verdict: dict[str, Any]) -> str:
    """Why the claim is not reached, from what was measured."""
    gaps = list(verdict["arm_gap"].values())
    if gaps and max(gaps) > verdict["noise"]:
        recipe = (f"the authors' latent spec helps ({100 * max(gaps):+.1f} points, beyond the noise) but ends far "
                  "from 95 %")
    elif gaps:
        recipe = (f"the authors' latent spec and code weights alone do not close the gap ({100 * max(gaps):+.1f} points, "
                  "within the noise; the recipe keeps its settings and `noise_distribution: uniform`, "
                  "`continuous_weight: 1.0` give the authors' spec)")
    else:
        recipe = "the authors' latent spec was not measured against the recipe at the same seed"
    net_gaps, at_budget = verdict["authorsnet_gap"], verdict["at_budget"]
    if not net_gaps or not at_budget:
        return (f"**Cause shown** (not reached; the code differences measured here do not explain it): {recipe}; "
                "purity climbs fast for the first ~750 iterations and then slowly, the seeds differ by several "
                "points and every run leaves digits that no code value claims (merged into another digit's "
                "value), so a longer budget alone would be slow to reach 95 % on this machine. Not tested "
                "here, and what still differs from the authors' run: their FC-1024 D and G at 28 px, batch "
                "128, and 55,000 training digits instead of 4,500.")
    gap = max(net_gaps.values())
    best = max(at_budget.values(), key=lambda b: b["purity"])
    partial = best["partial"]
    where = _reached_text(best)
    if gap > verdict["noise"]:
        peak = ("" if best["peak_step"] == best["steps"] else
                f" (best {_pct(best['peak'])} at {best['peak_step']:,}, {100 * (PURITY_CLAIM - best['peak']):.1f} points short)")
        networks = (f"the authors' networks, batch 128 and 28 px are the largest cause measured ({100 * gap:+.1f} points "
                    f"over the recipe at {verdict['common_steps']:,} iterations, beyond the noise) and reach "
                    f"{_pct(best['purity'])} after {where}, {100 * (PURITY_CLAIM - best['purity']):.1f} points short of "
                    f"the paper{peak}")
    else:
        networks = (f"the authors' networks, batch 128 and 28 px do not close the gap either ({100 * gap:+.1f} points "
                    f"over the recipe at {verdict['common_steps']:,} iterations, within the noise; "
                    f"{_pct(best['purity'])} after {where})")
    if len(at_budget) == 1:
        seeds = ("one seed at the authors' settings" + (", a partial run" if partial else "")
                 + ("" if best["peak_step"] == best["steps"] else
                    " (so whether its fall after its best probe is this run's noise or the code drifting is not known)"))
    else:  # each seed's best probe and end: how far the seed alone moves the purity at the authors' settings
        each = "; ".join(f"seed {seed}: best {_pct(b['peak'])} at {b['peak_step']:,}, end {_pct(b['purity'])}"
                         for seed, b in sorted(at_budget.items()))
        ends = [b["purity"] for b in at_budget.values()]
        seeds = (f"more than {len(at_budget)} seeds at the authors' settings, where the seed alone moves the end "
                 f"purity by {100 * (max(ends) - min(ends)):.1f} points ({each})")
    rest = (seeds + "; what still differs from the authors' run: 4,500 training digits instead of 55,000 (at their "
            "640,000 images, 142 passes over ours against 11.6 over theirs), G's tanh on [-1, 1] for their sigmoid "
            "on [0, 1], and truncated-normal conv weights")
    return (f"**Cause shown** (not reached; the differences measured here explain part of the gap): {networks}; "
            f"{recipe}. Not measured: {rest}.")


def bigan_section(run: dict[str, Any], commands: list[str]) -> str:
    deltas = bigan_deltas(run)
    verdict = bigan_verdict(run)
    images_per_it = 64
    lines = ["| Iteration | Images seen | 5-NN on E(x) | 1-NN on E(x) | 1-NN on E's last hidden layer | 5-NN: trained - random, only trained / only random, p | 1-NN on E(x): trained - random, p |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for d in deltas:
        m5, m1 = d["mcnemar_knn5"], d["mcnemar_nn1"]
        lines.append(f"| {d['step']}{' (random E)' if d['step'] == 0 else ''} | {d['step'] * images_per_it:,} | {_pct(d['knn5'])} | {_pct(d['nn1'])} | {_pct(d['nn1_hidden'])} | "
                     + ("" if d["step"] == 0 else f"{100 * d['delta_knn5']:+.1f}, {m5['first_only']} / {m5['second_only']}, p = {m5['p_value']:.2g}")
                     + " | " + ("" if d["step"] == 0 else f"{100 * d['delta_nn1']:+.1f}, p = {m1['p_value']:.2g}") + " |")
    authors = ["| Epoch | Iterations (batch 128) | Images seen | 1-NN on E(x) (`NNC_e`) | 1-NN on E's last hidden layer (`NNC_e-`) | trained - random E(x) / hidden |",
               "|---:|---:|---:|---:|---:|---:|"]
    random_e, random_h = AUTHORS_BIGAN_LOG[0]
    for epoch, (e, h) in AUTHORS_BIGAN_LOG.items():
        its = epoch * AUTHORS_BIGAN_ITERS_PER_EPOCH
        authors.append(f"| {epoch}{' (random E)' if epoch == 0 else ''} | {its:,} | {its * 128:,} | {e:.2f} % | {h:.2f} % | "
                       + ("" if epoch == 0 else f"{e - random_e:+.2f} / {h - random_h:+.2f}") + " |")
    it, trained, random, p, src = EARLIER_BIGAN
    end = verdict["end"]
    return f"""## BiGAN's encoder: learning curve against the authors' own log (issue 16)

Written by `benchmarks/encoders_findings.py`; do not edit by hand. Commands (from the repository root):

```sh
{chr(10).join(commands)}
```

**Compared with the authors' code** (github.com/jeffdonahue/bigan: `train_mnist.sh`, `train_gan.py`,
`net.py`, `data.py`, `lib/metrics.py`, `README.md`):

| What | Authors' permutation-invariant MNIST | Ours (`experiments/bigan/mnist5k.yaml`) |
|---|---|---|
| Networks | MLPs: E and D's x path FC 1024 - FC 1024 (BN), lReLU (`mnist_mlp`); G FC 1024 - FC 1024 - 784, sigmoid (`deconvnet_mnist_mlp`) | DCGAN convs, width 32, 32 px; joint D with a 512-unit z path and dropout 0.2 (ALI's) |
| Latent | 50-D **U[-1, 1]** (`--noise u-50`) | 50-D N(0, I) (ALI's prior) |
| Optimiser | Adam lr **2e-4**, beta1 0.5, L2 weight decay 2.5e-5; constant 200 epochs, then exponential decay to 0.01x over 200 more | Adam lr 1e-4 (ALI's), betas (0.5, 0.999), no decay |
| Updates | D, G and E in one simultaneous step per batch (`k` = 1, `update_both`) | alternating D then G+E |
| Batch, length | 128; **400 epochs of 50,000 digits = {400 * AUTHORS_BIGAN_ITERS_PER_EPOCH:,} iterations** | 64; 1,500 iterations (96,000 images: about 2 epochs of 50,000) |
| Measure | 1-NN Euclidean, 10,000 validation digits vs the training digits | 5-NN on standardised codes, 500 held-out vs 4,500 training digits (this section adds the authors' 1-NN) |

The authors' own run (the log printed in their `README.md`; epoch 0 is before any update, i.e. a random encoder):

{chr(10).join(authors)}

Ours, the recipe, seed 0, probed during one run of {run['steps']} iterations (probe at 0 = the same encoder at its
random initial weights; McNemar: exact two-sided, on the same 500 held-out digits). Fit {run['fit_seconds']:.0f} s
(probes {run['probe_seconds']:.0f} s), one thread, {os.cpu_count()} CPUs shared with other jobs, niced.
Earlier, at {it} iterations of the same recipe and seed, trained by the code of commit 50ce439 (the data sampler and the
training loop have changed since; the initial weights have not: its random E scored the same {_pct(random)}): 5-NN
{_pct(trained)} trained vs {_pct(random)} random, p = {p} ({src}).

{chr(10).join(lines)}

**Verdict: {verdict['text']}** at this budget (trained minus random E at iteration {end['step']}: 5-NN {100 * end['delta_knn5']:+.1f} points,
p = {end['mcnemar_knn5']['p_value']:.2g}; 1-NN {100 * end['delta_nn1']:+.1f} points). {bigan_cause(run)}
"""


def bigan_cause(run: dict[str, Any]) -> str:
    """The cause, from the authors' log and our budget."""
    (e0, h0), (e1, h1), (e400, h400) = AUTHORS_BIGAN_LOG[0], AUTHORS_BIGAN_LOG[1], AUTHORS_BIGAN_LOG[400]
    authors_its = 400 * AUTHORS_BIGAN_ITERS_PER_EPOCH
    ours_images, authors_images = run["steps"] * 64, authors_its * 128
    hidden_start, hidden_end = run["curve"]["0"]["nn1_hidden"], run["curve"][str(run["steps"])]["nn1_hidden"]
    return (f"**Cause shown**: the claim's margin over a random encoder is small even in the authors' own run. Their "
            f"random E scores {e0:.2f} % / {h0:.2f} % (E(x) / last hidden layer); after one epoch "
            f"({AUTHORS_BIGAN_ITERS_PER_EPOCH} iterations) the trained E is *below* it ({e1 - e0:+.2f} / {h1 - h0:+.2f} "
            f"points), and after all 400 epochs ({authors_its:,} iterations) it is {e400 - e0:+.2f} / {h400 - h0:+.2f} "
            f"points above it: {round((e400 - e0) * 100)} / {round((h400 - h0) * 100)} of their 10,000 digits, about "
            f"{(e400 - e0) * 5:.0f} of our 500, far below what an exact McNemar test on 500 digits resolves. Our "
            f"{run['steps']:,} iterations at batch 64 ({ours_images:,} images, {ours_images / 50000:.1f} of their epochs, "
            f"1/{authors_images / ours_images:.0f} of their images) sit where their own curve was at or below random; "
            f"here too E's last hidden layer loses ground early ({100 * hidden_start:.1f} % -> {100 * hidden_end:.1f} % "
            f"at iteration {run['steps']:,}), as theirs did in its first epoch ({h0:.2f} % -> {h1:.2f} %). "
            f"The paper's Table 1 number (about 97.4 % 1-NN, from memory: no stored copy of the paper's table was "
            f"found here) is close to the {h400:.2f} % of `NNC_e-` at epoch 400 in that log, {h400 - h0:+.2f} points "
            f"from their random encoder; on 4,500 memory digits instead of 50,000 every 1-NN number is lower "
            f"(raw pixels 89.4 % 5-NN here, section `conditional_bigan`). Recipe differences (MLPs, U[-1, 1] prior, "
            f"lr 2e-4 with decay, simultaneous updates) were not changed: no budget this machine has could show a "
            f"0.5-point gain on 500 digits.")


# ----------------------------------------------------------------------------- main
def write_reports(cache: dict[str, Any], out: Path) -> list[str]:
    written = []
    infogan = [r for r in cache.values() if isinstance(r, dict) and r.get("model") == "InfoGAN"]
    bigan = [r for r in cache.values() if isinstance(r, dict) and r.get("model") == "BiGAN"]
    commands = cache.get("_commands", {})
    if infogan:
        replace_section(out, "findings_infogan", infogan_section(infogan, [commands[r["name"]] for r in sorted(
            infogan, key=lambda r: (r["arm"] != "recipe", r["seed"])) if r["name"] in commands]))
        written.append("findings_infogan")
    if bigan:
        replace_section(out, "findings_bigan", bigan_section(bigan[0], [commands[bigan[0]["name"]]]
                                                             if bigan[0]["name"] in commands else []))
        written.append("findings_bigan")
    return written


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="", help=f"comma-separated runs to train now, of: {', '.join(RUNS)}")
    parser.add_argument("--infogan-steps", type=int, default=1500)
    parser.add_argument("--bigan-steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250, help="probe every this many iterations (and at 0 and the end)")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--report-only", action="store_true", help="rebuild the sections from the cache")
    parser.add_argument("--checkpoints", type=Path, default=None,
                        help="resumable runs: keep each run's latest checkpoint in this folder (e.g. "
                             "runs/encoders_findings) at every probe, its curve so far in the cache, and continue "
                             "a cached partial run from there")
    args = parser.parse_args(argv)
    args.runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in args.runs if r not in RUNS]
    if unknown:
        parser.error(f"unknown runs {unknown}; choose from {', '.join(RUNS)}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    cache = load_runs(args.cache)
    if not args.report_only:
        command = command_line(__file__, argv)
        for name in args.runs:
            steps = args.infogan_steps if RUNS[name]["model"] == "InfoGAN" else args.bigan_steps
            result = run_one(name, steps, args.every, cache=args.cache, checkpoints=args.checkpoints,
                             command=command)
            cache = load_runs(args.cache)  # another process may have cached a run meanwhile
            cache[name] = result
            cache.setdefault("_commands", {})[name] = command
            save_runs(cache, args.cache, sort_keys=False)
            print(f"{name}: {steps} it, fit {result['fit_seconds']:.0f} s, probes {result['probe_seconds']:.0f} s", flush=True)
    for section in write_reports(cache, args.out):
        print(f"wrote section '{section}' of {args.out}")


if __name__ == "__main__":
    main()
