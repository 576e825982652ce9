"""A device-resident training split for small data sets (MNIST5k, Toy2D): no DataLoader per batch.

With ``--data.init_args.device_resident true`` the data module keeps its whole training split
as one tensor per field on the training device (``trainer.strategy.root_device``), copied
there once, and a batch is one ``index_select`` of those tensors: no worker, no per-item
``__getitem__``, no collation and no host-to-device copy per batch.

The batches are the DataLoader path's, exactly: the order comes from the very
``EpochSeededSampler`` the DataLoader path uses (seeded by ``seed + epoch``; Lightning calls
its ``set_epoch``), the last incomplete batch is dropped, a batch has the structure the
default collation gives (``[images, labels]``), and no draw is taken from the global RNG.
On a CPU a run is bitwise the same either way. The loader has the state of
``ResumableDataLoader`` (the epoch and the batches consumed in it), so a run resumes in the
middle of an epoch at the batch it stopped at.

One device only: under DDP each process would see the whole split; drop the option there.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import torch
from lightning_utilities.core.apply_func import apply_to_collection
from torch.utils.data import Dataset, Subset, TensorDataset
from torch.utils.data._utils.collate import default_collate

from gan_lightning.data.base import EpochSeededSampler
from gan_lightning.errors import SettingError


def collate_all(dataset: Dataset) -> Any:
    """The whole data set as one batch, as the default collation would build it (``[x, y]`` for pairs)."""
    if isinstance(dataset, TensorDataset):
        return list(dataset.tensors)
    if isinstance(dataset, Subset) and isinstance(dataset.dataset, TensorDataset):
        index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
        return [tensor[index] for tensor in dataset.dataset.tensors]
    return default_collate([dataset[i] for i in range(len(dataset))])


class DeviceResidentLoader:
    """Batches of a training split held on ``device``, in the order of ``sampler``, the last incomplete one dropped.

    ``consumed_batches`` reads how many batches of the current epoch the training loop has
    finished (for the checkpoint, as ``ResumableDataLoader``).
    """

    def __init__(self, dataset: Dataset, batch_size: int, sampler: EpochSeededSampler,
                 device: torch.device | str = "cpu", consumed_batches: Callable[[], int] = lambda: 0) -> None:
        self.batch_size = batch_size
        self.sampler = sampler
        self.device = torch.device(device)
        self.data = apply_to_collection(collate_all(dataset), torch.Tensor, lambda t: t.to(self.device))
        self._consumed_batches = consumed_batches

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size

    def __iter__(self) -> Iterator[Any]:
        # A generator: the sampler draws its order (and uses up a pending resume) at the first
        # next(), as a DataLoader's does; Lightning calls iter() once just to check the loader.
        order = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long)
        count = len(order) // self.batch_size
        rows = order[: count * self.batch_size].view(count, self.batch_size).to(self.device)
        for row in rows:
            yield apply_to_collection(self.data, torch.Tensor, lambda t: t.index_select(0, row))

    # the state of ResumableDataLoader: Lightning saves it and loads it back on resume
    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "consumed_batches": int(self._consumed_batches())}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.resume(state["epoch"], state["consumed_batches"] * self.batch_size)


class DeviceResidentData:
    """Mixin of a ``GANDataModule`` whose training split fits in accelerator memory.

    The data module sets ``self.device_resident``; when it is true, ``train_dataloader`` returns
    a :class:`DeviceResidentLoader` on the trainer's device instead of the DataLoader.
    """

    device_resident: bool = False

    def train_dataloader(self):
        if not self.device_resident:
            return super().train_dataloader()
        self.setup()
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            raise SettingError(f"--data.init_args.device_resident true keeps the training split on one device; it "
                               f"does not shard it over the {trainer.world_size} processes of DDP: set it to false")
        device = trainer.strategy.root_device if trainer is not None else torch.device("cpu")
        self.train_sampler = EpochSeededSampler(len(self.train_set), self.seed)
        self.check_one_batch(len(self.train_sampler))
        return DeviceResidentLoader(self.train_set, self.batch_size, self.train_sampler, device,
                                    consumed_batches=self._consumed_batches)
