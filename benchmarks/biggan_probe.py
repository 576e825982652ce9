"""Where BigGAN's class conditioning stands during a seeded run of its recipe (issue 26).

Trains ``experiments/<model>/mnist5k.yaml`` (BigGAN by default; ``--model CGAN`` for the baseline) for
``--iterations`` on one CPU thread and, every ``--every`` iterations, measures on held-out digits:

- ``d_true``: the share of held-out real digits on which D scores the digit higher with its true
  label than with a wrong one (true + k mod 10, k uniform in 1..9, seeded); 0.5 = D ignores the
  class; and ``d_gap``, the mean of D(x, true) - D(x, wrong);
- ``d_fake_true``: the same on G's samples (raw G, eval mode): D(G(z, y), y) > D(G(z, y), y');
- ``g_class``: how much G's output moves when only y changes at fixed z, relative to a change of z
  at fixed y (mean |G(z, y) - G(z, y')| / mean |G(z, y) - G(z', y)|, raw G, eval mode); 0 = G
  ignores the class;
- ``agree_raw`` / ``agree_ema``: the share of ``--samples`` samples (cycling labels, seeded) the
  project's digits classifier reads as the asked digit (chance 10 %).

Writes benchmarks/biggan_probe/<name>.json and the ``biggan_probe`` section of benchmarks/RESULTS.md
(every cached run); ``--report-only`` rebuilds the section.

    python benchmarks/biggan_probe.py --iterations 1000 --every 200
"""

from __future__ import annotations

import argparse
import time

import torch
from harness import (
    BENCHMARKS,
    RESULTS_MD,
    build_mnist5k,
    command_line,
    fit_exactly,
    load_runs,
    quiet_lightning,
    replace_section,
    save_runs,
    split_tensors,
)

HERE = BENCHMARKS / "biggan_probe"
SEED = 0
PROBE_SEED = 2026


@torch.no_grad()
def probe(model, images, labels, classifier, num_samples: int) -> dict:
    """The class-sensitivity numbers of ``model`` now (its modes are restored)."""
    rng = torch.Generator().manual_seed(PROBE_SEED)
    wrong = (labels + torch.randint(1, model.num_classes, labels.shape, generator=rng)) % model.num_classes
    was_training = model.training
    model.eval()
    try:
        true_out = torch.cat([model.discriminate(images[s:s + 250], labels[s:s + 250])
                              for s in range(0, len(labels), 250)])
        wrong_out = torch.cat([model.discriminate(images[s:s + 250], wrong[s:s + 250])
                               for s in range(0, len(labels), 250)])
        asked = torch.arange(num_samples) % model.num_classes
        other = (asked + torch.randint(1, model.num_classes, asked.shape, generator=rng)) % model.num_classes
        z = model.sample_noise(num_samples, rng=rng)
        z2 = model.sample_noise(num_samples, rng=rng)
        fake = model.sample(noise=z, labels=asked, use_ema=False)
        fake_other_y = model.sample(noise=z, labels=other, use_ema=False)
        fake_other_z = model.sample(noise=z2, labels=asked, use_ema=False)
        fake_true = model.discriminate(fake, asked)
        fake_wrong = model.discriminate(fake, other)
        ema = model.sample(noise=z, labels=asked, use_ema=True)
        return {
            "d_true": float((true_out > wrong_out).float().mean()),
            "d_gap": float((true_out - wrong_out).mean()),
            "d_fake_true": float((fake_true > fake_wrong).float().mean()),
            "g_class": float((fake - fake_other_y).abs().mean() / (fake - fake_other_z).abs().mean()),
            "agree_raw": float((classifier(fake).argmax(1) == asked).float().mean()),
            "agree_ema": float((classifier(ema).argmax(1) == asked).float().mean()),
        }
    finally:
        model.train(was_training)


def run(model_name: str, iterations: int, every: int, num_samples: int, overrides: dict) -> dict:
    import lightning as L

    from gan_lightning.callbacks import EMACallback
    from gan_lightning.evaluation import load_digits_classifier

    torch.manual_seed(SEED)
    model, data = build_mnist5k(model_name, **overrides)
    images, labels = split_tensors(data, "heldout")
    classifier = load_digits_classifier()
    curve: dict[str, dict] = {}

    class Probe(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            step = trainer.global_step
            if step % every == 0:
                curve[str(step)] = probe(pl_module, images, labels, classifier, num_samples)
                print(step, {k: round(v, 3) for k, v in curve[str(step)].items()}, flush=True)

    torch.manual_seed(SEED)
    model.enable_ema()
    curve["0"] = probe(model, images, labels, classifier, num_samples)
    print(0, {k: round(v, 3) for k, v in curve["0"].items()}, flush=True)
    started = time.perf_counter()
    seconds = fit_exactly(model, data, iterations, callbacks=[EMACallback(), Probe()], label=model_name)
    return {"model": model_name, "overrides": overrides, "iterations": iterations, "wall_s": round(seconds, 1),
            "total_s": round(time.perf_counter() - started, 1), "heldout": len(labels), "samples": num_samples,
            "curve": curve}


def report_text(runs: dict) -> str:
    lines = [
        "## BigGAN class-conditioning probes during training (issue 26)",
        "",
        ("Written by `benchmarks/biggan_probe.py` (command per run below; one CPU thread, seed "
        f"{SEED}). On held-out digits: `d_true` = share where D(x, true label) > D(x, wrong label) "
        "(0.5: D ignores the class), `d_gap` = mean D(x, true) - D(x, wrong); `d_fake_true` the same on raw "
        "G's samples for the label G drew them for; `g_class` = mean |G(z,y) - G(z,y')| / mean |G(z,y) - "
        "G(z',y)| (0: G ignores y); `agree_raw`/`agree_ema` = digits classifier reads the asked digit "
        "(chance 0.10)."),
    ]
    for name, result in runs.items():
        lines += ["", f"### {name}", "", f"`{result['command']}`: {result['iterations']} iterations, "
                  f"{result['wall_s']} s of fit (probes included)." + (f" {result['note']}" if result.get("note") else ""),
                  "",
                  "| iteration | d_true | d_gap | d_fake_true | g_class | agree_raw | agree_ema |",
                  "|---|---|---|---|---|---|---|"]
        for step, row in sorted(result["curve"].items(), key=lambda item: int(item[0])):
            lines.append(f"| {step} | {row['d_true']:.3f} | {row['d_gap']:.3f} | {row['d_fake_true']:.3f} | "
                         f"{row['g_class']:.3f} | {row['agree_raw']:.3f} | {row['agree_ema']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="BigGAN")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--set", nargs="*", default=[], help="model options changed from the recipe, key=value")
    parser.add_argument("--name", default=None, help="the run's name in the cache (default: model and options)")
    parser.add_argument("--note", default="", help="a sentence printed with the run (what differed when it ran)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    quiet_lightning()
    runs = load_runs(HERE / "runs.json", empty={})
    if not args.report_only:
        import yaml

        overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
        name = args.name or " ".join([args.model, *args.set])
        result = run(args.model, args.iterations, args.every, args.samples, overrides)
        result["command"] = command_line(__file__, argv)
        if args.note:
            result["note"] = args.note
        runs[name] = result
        HERE.mkdir(parents=True, exist_ok=True)
        save_runs(runs, HERE / "runs.json", drop=())
    replace_section(RESULTS_MD, "biggan_probe", report_text(runs))


if __name__ == "__main__":
    main()
