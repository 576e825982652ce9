"""Shared pieces of every data module: the epoch-seeded sampler and the base class.

Data order depends only on ``(seed, epoch)`` (and, under DDP, the rank), never on the
global RNG, so a resumed run sees exactly the batches the uninterrupted run saw, on every rank.
"""

from __future__ import annotations

import signal
from typing import Iterator, Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from gan_lightning.core import compat
from gan_lightning.errors import UsageError


class EpochSeededSampler(compat.ShardingSampler):
    """Random permutation drawn from ``seed + epoch`` (Lightning calls ``set_epoch``).

    Under DDP (``num_replicas`` > 1) every rank draws the same permutation, cut to a multiple
    of ``num_replicas``, and takes every ``num_replicas``-th item from position ``rank``: the
    shards are disjoint and equally long. The sampler shards by itself, so Lightning does not
    wrap it (see ``compat.ShardingSampler``) and a resume reaches ``resume`` on every rank.

    ``resume(epoch, skip)`` makes the next pass over ``epoch`` start after its first
    ``skip`` items (of this rank's shard): a run resumed in the middle of an epoch sees the
    rest of the very permutation the interrupted run was drawing from.
    """

    def __init__(self, num_items: int, seed: int = 0, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(num_replicas, rank)
        self.num_items = num_items
        self.seed = seed
        self._resume: tuple[int, int] | None = None

    def resume(self, epoch: int, skip: int) -> None:
        self._resume = (epoch, skip)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.num_items, generator=generator)
        if self.num_replicas > 1:
            order = order[: len(self) * self.num_replicas][self.rank :: self.num_replicas]
        if self._resume is not None and self._resume[0] == self.epoch:
            order = order[self._resume[1] :]
        self._resume = None
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_items // self.num_replicas


class EpochKeyedSampler(EpochSeededSampler):
    """:class:`EpochSeededSampler` whose keys also carry the epoch: it yields ``epoch * num_items + index``.

    For data sets whose items depend on the epoch (a random crop and flip per pass, a fresh
    unpaired partner per pass): ``divmod(key, len(dataset))`` gives ``(epoch, index)`` back, so an
    item is a pure function of ``(seed, epoch, index)``. The epoch travels with the key, not as
    an attribute set on the data set, so it reaches DataLoader worker processes (persistent
    ones too), and a resumed epoch recomputes exactly the items the interrupted one drew.
    A key below ``len(dataset)`` is epoch 0: the held-out loader's plain indices.
    """

    def __iter__(self) -> Iterator[int]:
        offset = self.epoch * self.num_items
        return iter([offset + index for index in super().__iter__()])


def ignore_interrupts(worker_id: int) -> None:
    """``worker_init_fn`` of every loader: a DataLoader worker ignores Ctrl-C. A terminal sends SIGINT
    to the whole process group; the main process finishes the iteration and checkpoints
    (``PreemptionCheckpoint``), which needs its workers alive until it shuts them down itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ResumableDataLoader(DataLoader):
    """A training DataLoader that Lightning checkpoints (it has ``state_dict`` / ``load_state_dict``).

    The state is the epoch and the number of batches the training loop has consumed
    in it, read from the trainer at save time (the loader itself runs a batch ahead).
    """

    def __init__(self, *args, consumed_batches=lambda: 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._consumed_batches = consumed_batches

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "consumed_batches": int(self._consumed_batches())}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.resume(state["epoch"], state["consumed_batches"] * self.batch_size)


def remember_data_arguments(module: L.LightningDataModule) -> None:
    """Save the data module's ``__init__`` arguments in its checkpoints (``datamodule_hyper_parameters``),
    with its class path: ``gan-lightning sample`` rebuilds the held-out inputs of an image-to-image run
    from them, and a resume compares them with the command's (``gan_lightning/resume.py``). Not sent
    to the loggers (``logger=False``): the model's hyperparameters are logged alone. Every
    ``GANDataModule`` calls it; a second call changes nothing."""
    from gan_lightning.core.arguments import caller_frame

    if "_class_path" in module.hparams:
        return
    module.save_hyperparameters(frame=caller_frame(), logger=False)
    cls = type(module)
    module.hparams.setdefault("_class_path", f"{cls.__module__}.{cls.__qualname__}")


class GANDataModule(L.LightningDataModule):
    """Base data module: one training set, an optional held-out split for validate/test.

    Subclasses implement :meth:`build_datasets` returning ``(train, heldout)`` and
    set ``data_shape`` (the shape of one sample, linked to the model by the CLI)
    and ``num_classes`` (0 when the set has no labels). ``data_kind`` names the kind of
    sample for the models' ``data_kinds`` (``image``: (C, H, W); ``toy2d``: points in R^2).
    """

    data_shape: tuple[int, ...] = ()
    data_kind: str = "image"
    num_classes: int = 0
    #: The training sampler's class: :class:`EpochKeyedSampler` for data sets whose items depend on the epoch.
    train_sampler_class: type[EpochSeededSampler] = EpochSeededSampler

    def __init__(self, batch_size: int = 64, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        remember_data_arguments(self)
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        if num_workers < 0:
            raise ValueError(f"data.num_workers must be >= 0 (0: load in the main process), got {num_workers}")
        fraction = self.hparams.get("heldout_fraction")  # any data module's held-out split, checked when it is built
        if fraction is not None and not 0.0 <= fraction < 1.0:
            raise ValueError(f"data.heldout_fraction must be in [0, 1), got {fraction}")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.train_set: Dataset | None = None
        self.heldout_set: Dataset | None = None
        self.train_sampler: EpochSeededSampler | None = None

    def build_datasets(self) -> tuple[Dataset, Dataset | None]:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            self.train_set, self.heldout_set = self.build_datasets()

    def _consumed_batches(self) -> int:
        """Batches of the current epoch the training loop has finished (for mid-epoch resume);
        under DDP every rank has finished as many of its own shard."""
        from gan_lightning.core import compat

        return compat.batches_done_this_epoch(self.trainer)

    def check_one_batch(self, samples: int, replicas: int = 1) -> None:
        """Raise :class:`UsageError` (one line) when ``samples`` (this process's share of the training
        split) make no whole batch: the last incomplete batch is dropped, so training would never advance."""
        if samples < self.batch_size:
            per = f" per process ({replicas} processes)" if replicas > 1 else ""
            raise UsageError(
                f"{type(self).__name__}: the training split has {samples} samples{per}, fewer than one batch "
                f"(--data.init_args.batch_size {self.batch_size}); give a batch size of at most {max(samples, 1)}, "
                f"or more data"
            )

    def train_dataloader(self) -> DataLoader:
        self.setup()
        trainer = self.trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        self.train_sampler = self.train_sampler_class(len(self.train_set), self.seed, num_replicas=replicas, rank=rank)
        self.check_one_batch(len(self.train_sampler), replicas)
        return ResumableDataLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=self.train_sampler,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            consumed_batches=self._consumed_batches,
            worker_init_fn=ignore_interrupts,
            # Its own generator: creating an iterator would otherwise draw a worker seed
            # from the global RNG, shifting the noise stream of a mid-epoch resume.
            generator=torch.Generator().manual_seed(self.seed),
        )

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(
            self.heldout_set if self.heldout_set is not None else self.train_set,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=ignore_interrupts,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()


def split_heldout(dataset: Dataset, labels: Sequence[int] | None, fraction: float, seed: int):
    """Seeded split into (train, held-out); stratified by class when labels are given."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"data.heldout_fraction must be in [0, 1), got {fraction}")
    n = len(dataset)
    generator = torch.Generator().manual_seed(seed)
    if fraction == 0.0:
        return dataset, None
    if labels is None:
        order = torch.randperm(n, generator=generator)
        cut = int(round(n * fraction))
        return Subset(dataset, order[cut:].tolist()), Subset(dataset, order[:cut].tolist())
    labels = torch.as_tensor(labels)
    train_idx, held_idx = [], []
    for cls in labels.unique().tolist():
        idx = torch.nonzero(labels == cls).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        cut = int(round(len(idx) * fraction))
        held_idx += idx[:cut].tolist()
        train_idx += idx[cut:].tolist()
    return Subset(dataset, sorted(train_idx)), Subset(dataset, sorted(held_idx))


def class_balanced_subset(dataset: Subset, labels: Sequence[int], size: int, seed: int, key: str = "data.train_size"):
    """``size`` items of ``dataset`` (a ``Subset`` of the data set that ``labels`` label), as even
    over the classes as ``size`` allows: each class's items in a seeded order, taken in turn."""
    available = len(dataset)
    if not 1 <= size <= available:
        raise ValueError(f"{key} must be between 1 and {available} (the training split), got {size}")
    generator = torch.Generator().manual_seed(seed)
    indices = torch.as_tensor(dataset.indices)
    classes = torch.as_tensor(labels)[indices]
    queues = []
    for cls in classes.unique().tolist():
        members = indices[classes == cls]
        queues.append(members[torch.randperm(len(members), generator=generator)].tolist())
    taken: list[int] = []
    depth = 0
    while len(taken) < size:
        taken += [queue[depth] for queue in queues if depth < len(queue)][: size - len(taken)]
        depth += 1
    return Subset(dataset.dataset, sorted(taken))
