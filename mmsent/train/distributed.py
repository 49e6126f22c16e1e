"""Data-parallel training on PyTorch's own engine: launch with torchrun, change no code.

    torchrun --standalone --nproc_per_node=2 -m mmsent train --epochs 1

torchrun starts N processes and gives each one RANK, LOCAL_RANK and WORLD_SIZE in its
environment. `setup` joins them into one process group (NCCL between GPUs, gloo on CPUs) and
gives each its own GPU. `mmsent.train.fit` then

- wraps the model in `DistributedDataParallel` (`wrap_model`), which averages the gradients of
  all processes after every backward pass, so every copy of the model takes the same step;
- gives each process its share of every batch (`shard_loader`): process r takes the r-th slice
  of the batch one process would have taken. The N processes together take exactly the steps of
  a single-process run, on the same samples, each doing 1/N of the work;
- gathers the metrics of every process (`all_sum`, `gather_rows`), and lets rank 0 alone write
  checkpoints and reports (`is_main`).

Without torchrun (WORLD_SIZE unset or 1) every function here is a no-op: one process, as before.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler


def world_size() -> int:
    """Number of processes training together (1 without torchrun)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's number, 0 to world_size() - 1 (0 without torchrun)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """True in the one process that writes files and prints (rank 0, or the only process)."""
    return rank() == 0


def setup(device: str | None = None) -> torch.device:
    """Join torchrun's process group if launched by torchrun; return the device this process uses.

    Under torchrun with CUDA each process takes GPU number LOCAL_RANK and the NCCL backend;
    on CPUs (or with ``device="cpu"``) the gloo backend. Without torchrun this only picks the
    device (`mmsent.runtime.pick_device`).
    """
    from mmsent.runtime import pick_device

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return pick_device(device)
    use_cuda = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    if use_cuda:
        chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(chosen)  # NCCL and all_gather_object use the current device
    else:
        chosen = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return chosen


def cleanup() -> None:
    """Leave the process group (call once at the end of a torchrun run)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first, the others after it: e.g. rank 0 fills the feature cache,
    then the others read it instead of encoding the same photos again."""
    if not is_main():
        dist.barrier()
    yield
    if is_main() and world_size() > 1:
        dist.barrier()


def wrap_model(model: nn.Module) -> nn.Module:
    """`model` in DistributedDataParallel when several processes train, else `model` itself.

    Call the wrapper for training steps (its backward pass averages gradients across processes);
    evaluate with the plain model. Frozen parameters are left out of the averaging.
    """
    if world_size() == 1:
        return model
    device = next(model.parameters()).device
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


class ShardedBatchSampler(Sampler[list[int]]):
    """This process's slice of every batch of `batches` (another batch sampler).

    Process r of N takes items r, r + N, r + 2N... of each batch: with length-grouped batches
    every process then gets reviews of about the same lengths. `batches` must yield the same
    batches in every process, which seeded samplers do. A batch smaller than N is padded by
    repeating its items: every process must take the same number of steps, each on at least one
    review, or DistributedDataParallel would wait for ever.
    """

    def __init__(self, batches: Sampler[list[int]], rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}.")
        self.batches = batches
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            batch = list(batch)
            while len(batch) < self.world_size:
                batch += batch[: self.world_size - len(batch)]
            yield batch[self.rank :: self.world_size]


def shard_loader(loader: DataLoader) -> DataLoader:
    """The same loader, yielding only this process's slice of every batch (unchanged in one process)."""
    if world_size() == 1:
        return loader
    return DataLoader(
        loader.dataset,
        batch_sampler=ShardedBatchSampler(loader.batch_sampler, rank(), world_size()),
        collate_fn=loader.collate_fn,
        num_workers=loader.num_workers,
        pin_memory=loader.pin_memory,
    )


def all_sum(*values: float) -> list[float]:
    """Each value summed over all processes (e.g. loss totals and sample counts)."""
    if world_size() == 1:
        return list(values)
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    total = torch.tensor(values, dtype=torch.float64, device=backend_device)
    dist.all_reduce(total)
    return total.tolist()


def gather_rows(indices: torch.Tensor, columns: Sequence[torch.Tensor | None]) -> list[torch.Tensor | None]:
    """Rows computed by all processes, put back in dataset order, each row once.

    indices [rows] (the dataset rows this process computed); each column [rows, ...] or None.
    Returns the columns over every row of the dataset, sorted by index; rows that padding made
    two processes compute are kept once.
    """
    if world_size() > 1:
        parts: list = [None] * world_size()
        dist.all_gather_object(parts, (indices.cpu(), [None if c is None else c.cpu() for c in columns]))
        indices = torch.cat([part[0] for part in parts])
        columns = [
            None if column is None else torch.cat([part[1][k] for part in parts])
            for k, column in enumerate(columns)
        ]
    order = torch.argsort(indices, stable=True)
    ordered = indices[order]
    first = torch.ones_like(ordered, dtype=torch.bool)
    first[1:] = ordered[1:] != ordered[:-1]
    keep = order[first]
    return [None if column is None else column[keep] for column in columns]
