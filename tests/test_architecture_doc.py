"""docs/ARCHITECTURE.md's "adding a GAN in one file" example is real code: it trains, and its recipe reaches the optimizers."""

import re
from pathlib import Path

import torch

from conftest import tiny_trainer
from gan_lightning.data import MNIST5k

DOC = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"


def test_the_one_file_example_trains_with_its_recipe(tmp_path):
    block = re.search(r"```python\n(from gan_lightning.*?)```", DOC.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(block, str(DOC), "exec"), namespace)
    from gan_lightning.models import known_models, unregister_model

    try:
        assert known_models()["HingeTTUR"] is namespace["HingeTTUR"]  # registered where it is defined
    finally:
        unregister_model("HingeTTUR")
    model = namespace["HingeTTUR"](latent_dim=8, width=8)
    before = model.generator.net[0].weight.detach().clone()
    trainer = tiny_trainer(tmp_path, 3)
    trainer.fit(model, MNIST5k(batch_size=16))
    assert trainer.global_step == 3
    assert not torch.equal(before, model.generator.net[0].weight)
    assert model.named_optimizer("discriminator").param_groups[0]["lr"] == 4e-4
    assert model.named_optimizer("generator").param_groups[0]["betas"] == (0.0, 0.9)
