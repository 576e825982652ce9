"""Seeded work leaves the global random streams as they were: on the CPU, and on CUDA, which a CPU test can only
watch through the calls that would seed it (``torch.manual_seed`` seeds every CUDA device too)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from gan_lightning.core.rng import seeded_rng

PACKAGE = Path(__file__).resolve().parents[1]


@pytest.fixture
def cuda_seedings(monkeypatch):
    """Every call that would seed a CUDA device, recorded (on this CPU machine they would do nothing visible)."""
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(("manual_seed_all", seed)))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append(("manual_seed", seed)))
    return calls


def test_seeded_rng_seeds_the_cpu_stream_inside_and_restores_it_after_without_seeding_cuda(cuda_seedings):
    torch.manual_seed(123)
    cuda_seedings.clear()
    expected_after = torch.rand(5, generator=torch.Generator().manual_seed(123))
    with seeded_rng(7):
        inside = torch.rand(3)
    assert torch.equal(inside, torch.rand(3, generator=torch.Generator().manual_seed(7)))
    assert torch.equal(torch.rand(5), expected_after)  # as if the seeded work had not happened
    assert cuda_seedings == []


def test_the_cpu_seeded_places_of_the_package_do_not_seed_cuda(cuda_seedings, tmp_path):
    """The placeholders built in constructors and the networks trained once (caption encoder, digit reader): on a
    GPU, a CUDA seeding there would reset every run's CUDA noise to the same stream (before the fix: to seed 0)."""
    from gan_lightning.models import GANINTCLS
    from gan_lightning.pretrained import train_caption_encoder, train_digit_reader

    GANINTCLS(data_shape=(3, 32, 32), latent_dim=8, g_width=8, d_width=8, text_dim=8, text_encoder="random")
    train_digit_reader(None, image_size=32, width=8, iterations=2, train_size=64, batch_size=16, device="cpu")
    train_caption_encoder(tmp_path / "encoder.pt", epochs=1, train_size=64, batch_size=16)
    assert cuda_seedings == []


def test_no_module_of_the_package_seeds_every_device_but_ddps_per_rank_reseed():
    """``torch.manual_seed`` seeds every CUDA device as well: inside ``fork_rng(devices=[])`` it leaves CUDA reseeded.
    Only DDP's per-rank reseed (meant to reseed everything) calls it; seeded work goes through ``core/rng.py``."""
    allowed = {"gan_lightning/models/base.py"}
    found = {str(path.relative_to(PACKAGE)) for folder in ("gan_lightning", "callbacks")
             for path in (PACKAGE / folder).rglob("*.py")
             if re.search(r"^(?!\s*#).*\btorch\.manual_seed\(", path.read_text(), re.M)}
    assert found <= allowed, sorted(found - allowed)
    base = (PACKAGE / "gan_lightning/models/base.py").read_text()
    assert base.count("torch.manual_seed(") == 1 and "torch.manual_seed(base + self.global_rank)" in base


def test_on_a_cuda_device_seeded_rng_seeds_and_restores_that_device_alone(cuda_seedings, monkeypatch):
    """The CUDA branch, watched on the CPU: the fork covers the work's device only (every visible device would open a
    CUDA context on each from every DDP process), and only that device is seeded."""
    import contextlib

    forked, entered = [], []

    @contextlib.contextmanager
    def fork_rng(devices=None, **kwargs):
        forked.append(list(devices))
        yield

    monkeypatch.setattr(torch.random, "fork_rng", fork_rng)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "device", lambda index: entered.append(index) or contextlib.nullcontext())
    with seeded_rng(5, "cuda"):
        inside = torch.rand(2)
    with seeded_rng(6, torch.device("cuda", 3)):
        pass
    assert forked == [[1], [3]] and entered == [1, 3]
    assert cuda_seedings == [("manual_seed", 5), ("manual_seed", 6)]  # never manual_seed_all
    assert torch.equal(inside, torch.rand(2, generator=torch.Generator().manual_seed(5)))
