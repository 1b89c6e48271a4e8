"""Where training runs: one process on a CPU, a GPU or an Apple GPU, or one process per device under
`torchrun` (PyTorch DDP; gloo on CPUs, NCCL on CUDA GPUs), one node or many."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from tinyee.errors import TinyeeError

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class Placement:
    device: torch.device
    rank: int = 0
    world: int = 1
    amp_dtype: torch.dtype | None = None  # autocast dtype on GPUs; None: full float32

    @property
    def main(self) -> bool:
        """The process that logs, evaluates and writes checkpoints (rank 0)."""
        return self.rank == 0

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for float16 (bfloat16 has float32's range and needs none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def _device(name: str, local_rank: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TinyeeError("--device cuda: PyTorch sees no CUDA GPU here (this torch build: "
                              f"{torch.__version__}; a CPU-only build needs the CUDA wheel from pytorch.org)")
        if local_rank >= torch.cuda.device_count():
            raise TinyeeError(f"local rank {local_rank} but only {torch.cuda.device_count()} CUDA GPUs on this node: "
                              "give torchrun --nproc-per-node at most the GPU count")
        return torch.device("cuda", local_rank)
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise TinyeeError("--device mps: no Apple GPU (Metal) available here")
        return torch.device("mps")
    return torch.device("cpu")


def place(device: str, amp: bool | None) -> Placement:
    """The process's device, and its rank when started by torchrun (RANK, WORLD_SIZE, LOCAL_RANK set).

    amp None: mixed precision on CUDA GPUs (bfloat16 where supported, else float16 with loss scaling)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _device(device, local_rank if world > 1 else 0)
    if world > 1 and dev.type == "mps":
        raise TinyeeError("distributed training on Apple GPUs is not supported by PyTorch: use --device cpu")
    amp_dtype = None
    if amp or (amp is None and dev.type == "cuda"):
        if dev.type == "cpu":
            raise TinyeeError("--amp needs a GPU (--device cuda or mps); on CPUs tinyee trains in float32")
        amp_dtype = torch.bfloat16 if dev.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    if world == 1:
        return Placement(dev, amp_dtype=amp_dtype)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Placement(dev, dist.get_rank(), dist.get_world_size(), amp_dtype)


def leave(p: Placement) -> None:
    if p.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
