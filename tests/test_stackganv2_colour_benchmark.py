"""benchmarks/stackganv2_colour.py: the training-mode draw (the images the colour term acts on) beside the
eval-mode one (``sample``), and training in legs from kept checkpoints."""

from __future__ import annotations

import copy

import stackganv2_colour as benchmark
import torch
from test_core import assert_bitwise_equal
from tiny_stackgan import build_data, build_v2


def test_the_training_mode_draw_is_a_training_step_s_and_changes_nothing():
    model = build_v2(colour_weight=50.0)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(10, model.latent_dim, generator=g)
    captions = torch.randint(2, 60, (10, 18), generator=g)
    buffers = {k: v.clone() for k, v in model.generator.state_dict().items()}
    rng = torch.get_rng_state()
    branches, (mean_shift, var_ratio) = benchmark.train_mode_branches(model, z, captions, batch=4)
    assert [b.shape for b in branches] == [(10, 3, 8, 8), (10, 3, 16, 16), (10, 3, 32, 32)]
    # nothing of the model (BatchNorm's running statistics) nor the global RNG moved
    assert all(torch.equal(v, buffers[k]) for k, v in model.generator.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)
    # what G in training mode draws, batch by batch (4, 4, 2: each normalised by its own statistics)
    twin = copy.deepcopy(model.generator).train()
    torch.manual_seed(benchmark.SAMPLE_SEED)
    with torch.no_grad():
        expected = [twin(zs, model.embed(cs))[0] for zs, cs in zip(z.split(4), captions.split(4))]
    for i, branch in enumerate(branches):
        assert torch.equal(branch, torch.cat([e[i] for e in expected]))
    # ... which is not what sample() draws in eval mode (running statistics, c = mu): the two measures differ
    with torch.no_grad():
        sampled = model.sample(noise=z, conditions={"caption": captions}, stages=True, use_ema=False)
    assert (sampled[-1] - branches[-1]).abs().mean() > 0.01
    # augment=False: BatchNorm's batch statistics alone (c = mu, no eps drawn)
    alone = benchmark.train_mode_branches(model, z, captions, batch=4, augment=False)[0]
    twin.ca.augment = False
    with torch.no_grad():
        expected = [twin(zs, model.embed(cs))[0][-1] for zs, cs in zip(z.split(4), captions.split(4))]
    assert torch.equal(alone[-1], torch.cat(expected)) and not torch.equal(alone[-1], branches[-1])
    # an untrained G: running statistics (0, 1) against the batch's
    assert mean_shift > 0 and var_ratio > 0 and abs(var_ratio - 1) > 1e-3


def test_training_in_legs_from_the_kept_checkpoints_ends_where_one_straight_run_ends(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LIGHTNING_CACHE", str(tmp_path))

    def tiny(setting):
        import lightning as L

        L.seed_everything(0, verbose=False)
        model = build_v2(colour_weight=benchmark.SETTINGS[setting])
        return model, build_data(train_size=16), {"data_args": {"batch_size": 8}, "max_steps": 2}

    monkeypatch.setattr(benchmark, "build", tiny)
    assert benchmark.train("colour_on", [1])["to"] == 1
    leg = benchmark.train("colour_on", [1, 2])
    assert (leg["from"], leg["to"]) == (1, 2) and benchmark.train("colour_on", [1, 2]) is None  # nothing left
    assert sorted(benchmark.checkpoints("colour_on")) == [1, 2]
    straight_dir = tmp_path / "benchmarks" / "stackganv2_colour"
    (straight_dir / "colour_on").rename(straight_dir / "legs")
    assert benchmark.train("colour_on", [2])["from"] == 0  # the same run, straight this time
    resumed, straight = tiny("colour_on")[0], tiny("colour_on")[0]
    resumed.load_state_dict(torch.load(straight_dir / "legs" / "step=2.ckpt", weights_only=False)["state_dict"])
    straight.load_state_dict(torch.load(straight_dir / "colour_on" / "step=2.ckpt", weights_only=False)["state_dict"])
    assert_bitwise_equal(resumed, straight)
    assert not torch.equal(straight.generator.images[2][0].weight, tiny("colour_on")[0].generator.images[2][0].weight)


def test_the_verdict_counts_a_pair_and_statistic_closer_only_when_closer_in_both_modes():
    def run(eval_mean, train_mean, cov=0.1):
        pair = {"16/32": {"mean": 0.1, "cov": cov}, "unrelated 64/64": {"mean": 0.0, "cov": 0.0}}
        return {"iterations": 500, "gaps": {"eval": {**pair, "32/64": {"mean": eval_mean, "cov": cov}},
                                            "train": {**pair, "32/64": {"mean": train_mean, "cov": cov}}}}

    off = run(0.2, 0.2)
    short, full = benchmark.verdict_of(run(0.1, 0.1), off)
    assert short == "reached on the mean colour of the 32 to 64 px branches only"
    assert full.startswith("Verdict: reached on the mean colour of the 32 to 64 px branches only, at 500 iterations")
    assert "32/64 px mean 2.00x" in full and "16/32 px cov 1.00x" in full  # the unrelated scale is no pair
    assert benchmark.verdict_of(run(0.1, 0.3), off)[0] == "not reached"  # closer in eval mode only
    assert benchmark.verdict_of(off, off)[0] == "not reached"  # equal gaps are not closer
    assert benchmark.verdict_of(run(0.1, 0.1, cov=0.05), off)[0] == (  # the 16/32 means are equal
        "reached on the colour covariance of the 16 to 32 px branches and the mean colour of the 32 to 64 px "
        "branches and the colour covariance of the 32 to 64 px branches only")
    both = {"iterations": 9, "gaps": {m: {"16/32": {"mean": 0.1, "cov": 0.1}} for m in ("eval", "train")}}
    wide = {"iterations": 9, "gaps": {m: {"16/32": {"mean": 0.3, "cov": 0.2}} for m in ("eval", "train")}}
    assert benchmark.verdict_of(both, wide)[0] == "reached"
