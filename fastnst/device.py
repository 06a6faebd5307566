"""The one device and precision policy: which device "auto" means, and which number format a
precision name means there, for inference and for training alike.

Precision names: auto, fp32, bf16, fp16. What "auto" picks (measurements: docs/speed.md):
- CUDA: fp16 for inference; for training bf16 where the GPU has it (no loss scaling), else fp16.
- CPU: bf16 where the CPU computes it natively (AMX, or AVX512-BF16 without AMX), where oneDNN's
  bf16 convolutions are 2 to 4 times faster than fp32; fp32 elsewhere (emulated bf16 is slower).
- Apple MPS and others: fp32.
oneDNN limited to an older CPU's instructions (ONEDNN_MAX_CPU_ISA, e.g. AVX2) counts as that CPU.

Inference backends: auto, torch, onnxruntime. "auto" runs a checkpoint on the fast path and an
exported .onnx file in onnxruntime: with freed memory kept between layers (host_memory.py) and the
last layer on pixel blocks, the fast path is as fast as onnxruntime or faster on every CPU class
measured, fp32 included (docs/speed.md, "Backend").
"""

from __future__ import annotations

import os

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


# oneDNN's instruction-set names, oldest first (ONEDNN_MAX_CPU_ISA takes one of them).
ONEDNN_ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
               "AVX512_CORE_BF16", "AVX10_1_512", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
               "AVX10_2_512", "AVX10_2_512_AMX_2")


def onednn_isa_limit() -> str | None:
    """The instruction set oneDNN has been limited to (ONEDNN_MAX_CPU_ISA or DNNL_MAX_CPU_ISA), if any."""
    value = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    return value if value in ONEDNN_ISAS else None


def _allows(isa: str) -> bool:
    limit = onednn_isa_limit()
    return limit is None or ONEDNN_ISAS.index(limit) >= ONEDNN_ISAS.index(isa)


def cpu_bf16_class() -> str | None:
    """How this CPU computes bf16: "amx" (AMX tiles), "avx512_bf16" (AVX-512 with BF16, no AMX),
    or None (emulated: slower than fp32), as far as oneDNN is allowed to use it."""
    if not torch.backends.mkldnn.is_available():
        return None
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    if amx is not None and amx() and _allows("AVX512_CORE_AMX"):
        return "amx"
    avx512_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if (avx512_bf16 is not None and (avx512_bf16() or (amx is not None and amx()))
            and _allows("AVX512_CORE_BF16")):
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


BACKENDS = ("auto", "torch", "onnxruntime")
