"""Data-parallel training under torchrun: join the process group, ask who we are, agree on values.

`torchrun --nproc-per-node N train.py ...` starts N copies of the same script and describes the
group in environment variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, ...). Run without
torchrun, every function here is a no-op for a group of one, so the training loop has a single path.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def setup(device: torch.device) -> tuple[torch.device, bool]:
    """Join the group torchrun describes, if any: NCCL between GPUs, gloo between CPU processes.

    Returns this process's device (cuda:LOCAL_RANK under torchrun on GPUs) and whether this call
    created the group, i.e. whether `cleanup` should end it.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return device, False
    if device.type == "cuda":  # one GPU per process, chosen by its rank on this node
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if dist.is_initialized():  # the caller made the group itself: use it, leave it to them
        return device, False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")  # rendezvous from the environment
    return device, True


def cleanup(created: bool) -> None:
    """Leave the group, if this process created it. No barrier here: after an error on one
    process the others may never arrive (torchrun stops them)."""
    if created and dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0 does the writing (logs, checkpoints, progress bar) for the whole group."""
    return rank() == 0


def mean(values: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of `values` over all processes (gloo has no AVG reduction: sum / n)."""
    if world_size() == 1:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / world_size()


def from_main(value: Any) -> Any:
    """Rank 0's `value` on every process (e.g. a log folder named after rank 0's clock)."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every process gets here."""
    if world_size() > 1:
        dist.barrier()


def flag_from_main(flag: bool) -> bool:
    """Rank 0's `flag` on every process (a one-number broadcast, cheaper than from_main's pickling):
    a decision every process must share, taken by the process whose clock the checkpoint keeps."""
    if world_size() == 1:
        return flag
    on_gpu = dist.get_backend() == "nccl"  # NCCL moves GPU tensors only
    value = torch.tensor([float(flag)], device=torch.device("cuda", torch.cuda.current_device()) if on_gpu else "cpu")
    dist.broadcast(value, src=0)
    return bool(value.item())
