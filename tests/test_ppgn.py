"""PPGN (issue 27): what makes the MALA-approx chain that chain. Its condition term raises the classifier's
probability of the asked class; its prior term moves h toward the DAE's reconstruction; with every epsilon 0
it stays where it started; it is seeded. The classifier trains in its window only and is frozen after.
The every-model tests (resume, DDP, device) run PPGN through tests/tiny_ppgn.py."""

from __future__ import annotations

import itertools

import lightning as L
import pytest
import torch
from conftest import tiny_trainer
from tiny_hierarchical import _digits
from tiny_ppgn import build_data, build_model

from gan_lightning.core import StepContext


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest's: one intra-op thread for tiny networks


def class_probability(model, images: torch.Tensor, label: int) -> torch.Tensor:
    """C's probability of ``label`` for each image of a chain, (steps + 1, chains)."""
    with torch.no_grad():
        flat = images.flatten(0, 1)
        return model.encoder(flat).softmax(1)[:, label].view(images.shape[:2])


def trained_model(steps: int = 30, lr: float = 1e-3):
    """The tiny PPGN with its classifier, then its G (on the reconstruction term), trained on the 56 training
    digits for ``steps`` full-batch Adam steps each, so that C is no longer uniform and G(h) follows h."""
    model = build_model(encoder_width=8, g_width=8)
    images, labels = _digits()
    images, labels = images[:56], labels[:56]
    ctx = StepContext((images, labels))
    optimizer = torch.optim.Adam(model.encoder.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        model.encoder_terms(ctx)["e_loss"].backward()
        optimizer.step()
    with torch.no_grad():
        codes = model.encoder.features(images)
    optimizer = torch.optim.Adam(model.generator.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        (model.decode(codes) - images).pow(2).mean().backward()
        optimizer.step()
    return model, codes, labels


def test_condition_term_raises_the_asked_class_probability_along_the_chain():
    model, codes, labels = trained_model()
    for label in (3, 7):
        start = codes[labels != label][:4]  # real digits' codes of other classes
        images = model.sample_chain(torch.full((4,), label), steps=10, eps1=0.0, eps2=1.0, eps3=0.0, lr=0.2,
                                    h0=start)
        assert images.shape == (11, 4, 1, 28, 28)
        prob = class_probability(model, images, label)
        assert (prob[1:] > prob[:-1]).all(), prob  # rises at every step of every chain
        assert (prob[-1] > 2 * prob[0]).all(), prob


def test_prior_term_moves_the_code_toward_the_dae_reconstruction():
    model = build_model()
    h0 = model.sample_noise(6, rng=torch.Generator().manual_seed(1)).clamp(0, 30)
    _, codes = model.sample_chain(5, steps=3, eps1=1e-5, eps2=0.0, eps3=0.0, lr=0.05, h0=h0, codes=True)
    for before, after in itertools.pairwise(codes):
        with torch.no_grad():
            target = model.reconstruct_code(before)
        step, wanted = after - before, target - before
        assert torch.nn.functional.cosine_similarity(step, wanted, dim=1).min() > 0.95
        assert ((after - target).norm(dim=1) < (before - target).norm(dim=1)).all()


def test_joint_prior_moves_the_code_toward_e_of_g_of_h():
    model = build_model(prior="joint")
    h0 = model.sample_noise(4, rng=torch.Generator().manual_seed(4)).clamp(0, 30)
    _, codes = model.sample_chain(2, steps=1, eps1=1e-5, eps2=0.0, eps3=0.0, lr=0.05, h0=h0, codes=True)
    model.eval()
    with torch.no_grad():
        target = model.encoder.features(model.generator(h0))
    cosine = torch.nn.functional.cosine_similarity(codes[1] - h0, target - h0, dim=1)
    assert cosine.min() > 0.95
    with pytest.raises(ValueError, match="model.prior must be 'dae'"):
        build_model(prior="gaussian")


def test_with_every_epsilon_zero_the_chain_does_not_move():
    model = build_model()
    h0 = model.sample_noise(3, rng=torch.Generator().manual_seed(2)).clamp(0, 30)
    images, codes = model.sample_chain(1, steps=4, eps1=0.0, eps2=0.0, eps3=0.0, h0=h0, codes=True)
    assert torch.equal(codes[0], h0) and all(torch.equal(code, h0) for code in codes)
    assert all(torch.equal(image, images[0]) for image in images)


def test_the_chain_is_seeded_and_its_noise_term_moves_it():
    model = build_model()

    def run(seed: int, eps3: float):
        return model.sample_chain(torch.tensor([2, 8]), steps=3, eps1=0.0, eps2=0.0, eps3=eps3,
                                  rng=torch.Generator().manual_seed(seed), codes=True)[1]

    assert torch.equal(run(0, 0.5), run(0, 0.5))
    assert not torch.equal(run(0, 0.5), run(1, 0.5))
    assert not torch.equal(run(0, 0.5)[-1], run(0, 0.5)[0])  # the noise alone moves the code
    codes = run(0, 0.5)
    assert codes.min() >= 0 and codes.max() <= 30  # the authors' clip to [0, 30]
    with pytest.raises(ValueError, match="eps1/eps2/eps3 must be >= 0"):
        model.sample_chain(1, steps=2, eps2=-1.0)
    with pytest.raises(ValueError, match="model.eps3 must be >= 0, got -1"):
        build_model(eps3=-1.0)


def test_sample_runs_the_chain_for_the_asked_labels_with_the_defaults():
    model = build_model(chain_steps=3)
    assert model.chain_defaults == {"steps": 3, "eps1": 1e-5, "eps2": 1.0, "eps3": 1e-17, "lr": 1.0}
    labels = torch.tensor([3, 7, 3, 7])
    noise = model.sample_noise(4, rng=torch.Generator().manual_seed(3))
    samples = model.sample(noise=noise, labels=labels)
    assert samples.shape == (4, 1, 28, 28)
    chain = model.sample_chain(labels, h0=noise, rng=None, eps3=0.0)
    assert torch.allclose(samples, chain[-1], atol=1e-5)  # eps3 1e-17 changes nothing at float precision
    with torch.inference_mode():  # e.g. from a validation hook: the chain still has its gradients
        assert torch.equal(model.sample(noise=noise, labels=labels), samples)
    with pytest.raises(ValueError, match="label"):
        model.sample(noise=noise, labels=torch.tensor([3, 7, 3, 12]))


class EncoderRecorder(L.Callback):
    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.states.append({k: v.detach().clone() for k, v in pl_module.encoder.state_dict().items()})


def test_classifier_trains_in_its_window_then_stays_frozen(tmp_path):
    L.seed_everything(0)
    model = build_model(encoder_steps=2)
    due = {i: sorted(p.name for p in model.phase_list if p.due(i)) for i in range(4)}
    assert due[0] == due[1] == ["E"] and due[2] == due[3] == ["D", "G", "R"]
    initial = {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}
    dae_initial = {k: v.detach().clone() for k, v in model.dae.state_dict().items()}
    recorder = EncoderRecorder()
    tiny_trainer(tmp_path, max_steps=5, callbacks=[recorder]).fit(model, build_data())
    assert len(recorder.states) == 5
    first, second = recorder.states[0], recorder.states[1]
    assert any(not torch.equal(first[k], initial[k]) for k in initial)  # trained in its window
    assert any(not torch.equal(second[k], first[k]) for k in first)
    for state in recorder.states[2:]:  # G's feature matching and the chain never move it after
        assert all(torch.equal(state[k], second[k]) for k in second)
    assert any(not torch.equal(model.dae.state_dict()[k], dae_initial[k]) for k in dae_initial)  # the DAE trains
