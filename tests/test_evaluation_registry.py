"""The one evaluation package: one registry holds the feature, paired and segmentation metrics with their
kinds, ``gan-lightning evaluate --metrics`` resolves paired names through it, no second registry exists,
and ``gan_lightning.metrics`` is only a re-export kept for old imports."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from pathlib import Path

import pytest
import torch
import yaml
from torch import Tensor

import gan_lightning.evaluation as evaluation
from conftest import run_evaluate, tiny_trainer
from gan_lightning.evaluation import (
    KINDS,
    PAIRED_METRICS,
    EvalMetric,
    MeanIoU,
    PairedMetric,
    SegmentationMetric,
    evaluate_translations,
    known_metrics,
    mean_iou,
    metric_class,
    parse_metrics,
    register_metric,
)
from gan_lightning.evaluation import registry
from tiny_srgan import build_data, build_model

REPO = Path(__file__).resolve().parents[1]
FEATURE = ["fid", "kid", "is", "pr", "1nn", "classes", "modes"]
PAIRED = ["psnr", "ssim", "lpips"]
SEGMENTATION = ["miou"]


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------- one registry, three kinds
def test_one_registry_lists_feature_paired_and_segmentation_metrics_with_their_kinds():
    kinds = {name: cls.kind for name, cls in known_metrics().items()}
    assert KINDS == ("feature", "paired", "segmentation")
    assert {name: kinds[name] for name in FEATURE + PAIRED + SEGMENTATION} == {
        **dict.fromkeys(FEATURE, "feature"), **dict.fromkeys(PAIRED, "paired"), **dict.fromkeys(SEGMENTATION, "segmentation"),
    }
    # registration order: the built-in feature metrics first (the order `evaluate --help` and errors list)
    assert list(known_metrics("feature"))[:7] == FEATURE
    assert list(known_metrics("paired"))[:3] == PAIRED and list(known_metrics("segmentation"))[:1] == SEGMENTATION
    for name, cls in known_metrics().items():
        base = {"feature": EvalMetric, "paired": PairedMetric, "segmentation": SegmentationMetric}[cls.kind]
        assert issubclass(cls, base), name
    # the paired view is the registry, not a copy
    assert dict(PAIRED_METRICS) == known_metrics("paired")
    assert metric_class("mean_iou") is MeanIoU and metric_class("MIOU") is MeanIoU


def test_each_caller_accepts_its_kinds_and_names_the_others():
    assert parse_metrics("fid,kid") == ["fid", "kid"]
    assert parse_metrics("psnr,fid", kinds=("feature", "paired")) == ["psnr", "fid"]
    assert parse_metrics("mean_iou", kinds="segmentation") == ["miou"]
    with pytest.raises(ValueError, match=r"unknown metric 'psnr' \('psnr' is a paired metric\); known metrics: fid, kid"):
        parse_metrics("fid,psnr")  # evaluate_generator, GeneratorMetrics and MetricsCallback compute feature metrics
    with pytest.raises(ValueError, match=r"unknown paired metric 'miou' \('miou' is a segmentation metric\); "
                                         r"known paired metrics: psnr, ssim, lpips"):
        parse_metrics("miou", kinds="paired")


def test_a_name_is_one_metric_across_kinds():
    class Clash(PairedMetric):
        name, outputs = "fid", ("fid",)

    with pytest.raises(ValueError, match="'fid' is already registered"):
        register_metric(Clash)

    class NoKind(torch.nn.Module):
        name, outputs = "no_kind", ("no_kind",)

    with pytest.raises(ValueError, match="must subclass one of EvalMetric, PairedMetric, SegmentationMetric"):
        register_metric(NoKind)


def test_mean_iou_metric_sums_batches_like_one_call():
    generator = torch.Generator().manual_seed(0)
    predicted = torch.randint(0, 4, (6, 8, 8), generator=generator)
    target = torch.randint(0, 4, (6, 8, 8), generator=generator)
    metric = MeanIoU(num_classes=5)  # class 4 is in neither: None, left out of the mean
    metric.update(predicted[:2], target[:2])
    metric.update(predicted[2:], target[2:])
    assert metric.compute() == mean_iou(predicted, target, 5)
    assert mean_iou(predicted, target, 5)["iou"][4] is None


# ---------------------------------------------------------------------------- evaluate --metrics <paired>
class MeanAbsoluteError(PairedMetric):
    """A paired metric the evaluation does not ship: mean |output - target| over every pixel."""

    name = "mae_test"
    outputs = ("mae_test",)

    def __init__(self) -> None:
        super().__init__()
        self.total, self.count = 0.0, 0

    def update(self, output: Tensor, target: Tensor) -> None:
        self.total += float((output - target).abs().double().sum())
        self.count += output.numel()

    def compute(self) -> dict[str, float]:
        return {"mae_test": self.total / self.count}


@pytest.fixture
def mae_registered():
    register_metric(MeanAbsoluteError)
    yield MeanAbsoluteError
    registry.METRICS.pop("mae_test")


@pytest.fixture(scope="module")
def srgan_checkpoint(tmp_path_factory):
    """A tiny SRGAN trained 2 iterations, and the data section that rebuilds its super-resolution data."""
    root = tmp_path_factory.mktemp("srgan")
    trainer = tiny_trainer(root, 2)
    trainer.fit(build_model(), build_data())
    trainer.save_checkpoint(root / "sr.ckpt")
    config = root / "data.yaml"
    init_args = dict(hr_size=16, scale=4, crops_per_epoch=32, heldout_crops=8, batch_size=8)
    config.write_text(yaml.safe_dump({"data": {"class_path": "SuperResolution", "init_args": init_args}}))
    return root / "sr.ckpt", config




def test_evaluate_command_resolves_paired_names_through_the_registry(srgan_checkpoint, mae_registered, capsys):
    checkpoint, config = srgan_checkpoint
    code, out, err = run_evaluate(capsys, "--ckpt_path", checkpoint, "--metrics", "psnr,ssim,mae_test",
                                  "--data_config", config, "--batch_size", "3")
    assert code == 0, err[-3000:]
    values = json.loads(out.strip().splitlines()[-1])
    assert set(values) == {"psnr", "ssim", "mae_test", "num_pairs"} and values["num_pairs"] == 8

    # the same numbers as evaluate_pairs on the held-out pairs, model.translate(lr) against hr
    from gan_lightning.checkpoints import load_model

    data = build_data()
    data.setup("fit")
    expected = evaluate_translations(load_model(checkpoint), data, "psnr,ssim,mae_test", batch_size=8)
    assert expected["real_split"] == "heldout"
    for key in ("psnr", "ssim", "mae_test"):
        assert values[key] == pytest.approx(expected[key], rel=1e-5)


def test_evaluate_command_paired_names_need_an_image_to_image_model_and_one_kind(srgan_checkpoint, capsys):
    checkpoint, _ = srgan_checkpoint
    code, out, err = run_evaluate(capsys, "--ckpt_path", checkpoint, "--metrics", "fid,psnr")
    assert code == 2 and "mixes feature metrics (fid) with paired metrics (psnr)" in err and out.strip() == ""
    code, out, err = run_evaluate(capsys, "--ckpt_path", checkpoint, "--metrics", "miou")
    assert code == 2 and "unknown metric 'miou' ('miou' is a segmentation metric)" in err
    code, out, err = run_evaluate(capsys, "--ckpt_path", checkpoint, "--metrics", "psnr", "--data", "MNIST5k")
    assert code == 2 and "paired metrics need a data module of input/target pairs" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------- no second registry
def _python_files(*folders: str):
    for folder in folders:
        yield from sorted((REPO / folder).rglob("*.py"))


def test_no_second_metric_registry():
    """``register_metric`` in evaluation/registry.py is the only registering function of the evaluation
    (and of the callbacks and benchmarks that compute metrics), and no module of the evaluation keeps its
    own table of metric classes."""
    the_registry = REPO / "gan_lightning" / "evaluation" / "registry.py"
    offenders = []
    for path in _python_files("gan_lightning", "callbacks", "benchmarks"):
        if path == the_registry:
            continue
        in_evaluation = path.parent.name in ("evaluation", "metrics", "callbacks")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("register_"):
                if in_evaluation or "metric" in node.name:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} def {node.name}")
    assert offenders == [], "a second registry: " + "; ".join(offenders)

    registered = set(registry.METRICS.values())
    for module_info in pkgutil.iter_modules(evaluation.__path__):
        module = importlib.import_module(f"gan_lightning.evaluation.{module_info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, dict) and value is not registry.METRICS and any(
                isinstance(v, type) and issubclass(v, registry.RegisteredMetric) for v in value.values()
            ) and attribute != "KIND_BASES":
                offenders.append(f"{module.__name__}.{attribute}")
            if (isinstance(value, type) and issubclass(value, registry.RegisteredMetric) and value.__module__ == module.__name__
                    and "name" in vars(value) and value not in registered):
                offenders.append(f"{module.__name__}.{attribute} (a named metric that is not registered)")
    assert offenders == [], "metric tables besides registry.METRICS: " + "; ".join(offenders)


def test_metrics_package_only_re_exports_the_evaluation():
    import gan_lightning.metrics as old

    folder = Path(old.__file__).parent
    assert sorted(p.name for p in folder.glob("*.py")) == ["__init__.py"]
    tree = ast.parse((folder / "__init__.py").read_text())
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}  # a docstring, the re-export, __all__: no code of its own
    assert "kept for old imports" in (ast.get_docstring(tree) or "").lower()
    for name in old.__all__:
        assert getattr(old, name) is getattr(evaluation, name), name
