"""The one device and precision policy: which device "auto" means, and which number format a
precision name means there, for inference and for training alike.

Precision names: auto, fp32, bf16, fp16. What "auto" picks (measurements: docs/speed.md):
- CUDA: fp16 for inference; for training bf16 where the GPU has it (no loss scaling), else fp16.
- CPU: bf16 where the CPU computes it natively (AMX, or AVX512-BF16 without AMX), where oneDNN's
  bf16 convolutions are 2 to 4 times faster than fp32; fp32 elsewhere (emulated bf16 is slower).
- Apple MPS and others: fp32.
"""

from __future__ import annotations

import torch

from .errors import FastNSTError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Inference also takes int8 (CPU, onnxruntime, calibrated on the photos: inference/int8.py).
INFERENCE_PRECISIONS = PRECISIONS + ("int8",)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICE_HELP = "auto (default), cpu, cuda, cuda:N or mps"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then the CPU; asking for one that is absent is an error."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FastNSTError(f"--device {name}: no CUDA GPU is available here; use --device cpu or auto")
    if name == "mps" and not torch.backends.mps.is_available():
        raise FastNSTError("--device mps: Apple MPS is not available here; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise FastNSTError(f"unknown device '{name}': use {DEVICE_HELP.replace(' (default)', '')}") from None


def cpu_bf16_class() -> str | None:
    """How this CPU computes bf16: "amx" (AMX tiles), "avx512_bf16" (AVX-512 with BF16, no AMX),
    or None (emulated: slower than fp32)."""
    if not torch.backends.mkldnn.is_available():
        return None
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if amx is not None and amx():
        return "amx"
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if avx512_bf16 is not None and avx512_bf16():
        return "avx512_bf16"
    return None


def resolve_precision(precision: str, device: torch.device, *, training: bool = False) -> torch.dtype:
    """The dtype a precision name means on `device` (see the module docstring); an explicit
    choice the device cannot compute is an error."""
    if precision not in PRECISIONS:
        raise FastNSTError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if training and cuda_bf16 else torch.float16
        if device.type == "cpu" and cpu_bf16_class() is not None:
            return torch.bfloat16
        return torch.float32
    if precision == "fp16" and device.type == "cpu":
        raise FastNSTError("--precision fp16 is for GPUs; on a CPU use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not cuda_bf16:
        raise FastNSTError("--precision bf16: this GPU has no bf16; use fp16 or fp32")
    if training and precision != "fp32" and device.type not in ("cuda", "cpu"):
        raise FastNSTError(f"mixed-precision training works on CUDA GPUs and CPUs; on {device.type} use --precision fp32")
    return DTYPES[precision]


def precision_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}[dtype]


def memory_format_for(device: torch.device) -> torch.memory_format:
    """channels_last (NHWC): what tensor cores want, and on the CPU oneDNN's bf16 convolutions
    (a training step 20% faster there; no slower in fp32). Not on Apple MPS, where support is patchy."""
    return torch.channels_last if device.type in ("cuda", "cpu") else torch.contiguous_format
