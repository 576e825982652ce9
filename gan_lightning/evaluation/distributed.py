"""Several processes (DDP): each rank's share of the samples and its noise seed, and the few collectives
the evaluation needs besides torchmetrics' own.

Rank r draws ``rank_share(num_samples, r, world_size)`` samples (``num_samples // world_size``,
the remainder going to the first ranks) from noise seeded ``seed + r * 1_000_003`` (rank 0
uses ``seed`` itself), so the metrics equal one process evaluating rank 0's samples, then
rank 1's, and so on.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

RANK_SEED_STRIDE = 1_000_003


def distributed_rank_and_size() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_share(num_samples: int, rank: int, world_size: int) -> int:
    """How many of ``num_samples`` rank ``rank`` generates (the remainder goes to the first ranks)."""
    return num_samples // world_size + (1 if rank < num_samples % world_size else 0)


def rank_seed(seed: int, rank: int) -> int:
    return seed + rank * RANK_SEED_STRIDE


def sum_over_ranks(value: int, device: torch.device) -> int:
    _, world_size = distributed_rank_and_size()
    if world_size == 1:
        return int(value)
    total = torch.tensor([int(value)], dtype=torch.long, device=device)
    dist.all_reduce(total)
    return int(total.item())


def max_over_ranks(value: int, device: torch.device) -> int:
    _, world_size = distributed_rank_and_size()
    if world_size == 1:
        return int(value)
    result = torch.tensor([int(value)], dtype=torch.long, device=device)
    dist.all_reduce(result, op=dist.ReduceOp.MAX)
    return int(result.item())


def single_entry(states: list[Tensor], dim: int, device: torch.device) -> list[Tensor]:
    """One tensor per rank (an empty ``(0, dim)`` one when there is nothing): a list state with
    ``dist_reduce_fx=None`` is gathered entry by entry, which needs equal lengths on every rank."""
    if not states:
        return [torch.zeros(0, dim, device=device)]
    return [torch.cat(list(states))]
