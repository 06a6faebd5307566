"""int8 inference on CPUs: the net exported to ONNX (cached, as for the onnxruntime backend),
quantized after training (static, QDQ, weights per channel) with activation ranges calibrated on a
few photos, and run by onnxruntime.

    stylizer = quantize(checkpoint, photos)        # an OnnxStylizer: call it like the net

Calibration looks at the photos about to be stylized (infer.py passes its inputs), center-cropped
to CALIBRATION_SIZE squares: the activation ranges then fit the pictures at hand. The instance
norms stay in float; the convolutions, which hold nearly all the work, run in int8 (weights in 7
bits on CPUs without VNNI, whose int8 kernels would otherwise overflow: saturates()). Its cost in
quality and its speed: docs/speed.md (`python benchmarks/int8.py` measures both).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image

from ..checkpoint import Checkpoint
from ..errors import FastNSTError, first_line
from ..images import center_crop
from .export import export_onnx
from .onnx_runtime import OnnxStylizer, cached_onnx_export

CALIBRATION_SIZE = 256  # the photos' center squares, in pixels
CALIBRATION_PHOTOS = 8  # at most this many


def saturates() -> bool:
    """Whether onnxruntime's uint8 x int8 kernels can overflow on this CPU. Without VNNI (AVX2, plain
    AVX-512) they add products in pairs into int16 (vpmaddubsw), which full 8-bit weights can
    saturate: on an AVX2 CPU that cost 8 dB of PSNR. 7-bit weights (reduce_range) cannot overflow.
    The CPU's own instructions count here: onnxruntime does not follow oneDNN's ISA limit."""
    vnni = getattr(torch.cpu, "_is_vnni_supported", None)
    return vnni is None or not vnni()


def quantize(checkpoint: Checkpoint, photos: Sequence[Image.Image], path: str | Path | None = None,
             threads: int | None = None) -> OnnxStylizer:
    """The checkpoint's net in int8, calibrated on `photos` (the first CALIBRATION_PHOTOS), as an
    onnxruntime stylizer; the quantized model is written to `path` (default: a temporary file,
    gone once the session has read it)."""
    try:
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_static)
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError:
        raise FastNSTError("--precision int8 needs onnxruntime and onnx: pip install 'fastnst[export]'") from None
    if not photos:
        raise FastNSTError("int8 needs a few photos to calibrate on")
    batches = [center_crop(photo.convert("RGB"), CALIBRATION_SIZE)[None] for photo in photos[:CALIBRATION_PHOTOS]]
    inputs = ["image"] + (["style_weights"] if checkpoint.model.config.num_styles > 1 else [])

    class Photos(CalibrationDataReader):
        def __init__(self) -> None:
            first = torch.zeros(checkpoint.model.config.num_styles)
            first[0] = 1.0
            self.feeds = iter([dict(zip(inputs, [x.numpy(), first.numpy()])) for x in batches])

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    def quantize_file(fp32: Path, prepared: Path, int8: Path) -> None:
        # The quantizer logs a warning per norm it leaves in float, and prints its progress.
        quiet = logging.getLogger()
        level, quiet.level = quiet.level, logging.ERROR
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
                quantize_static(str(prepared), str(int8), Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.MinMax, reduce_range=saturates(),
                                op_types_to_quantize=["Conv"])  # norms, adds, resizes stay in float
        finally:
            quiet.level = level

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        int8 = Path(path) if path else Path(tmp) / "int8.onnx"
        # The fp32 export a run before cached (an export takes seconds); a damaged one is exported again.
        for attempt in range(2):
            fp32 = cached_onnx_export(checkpoint)
            cached = fp32 is not None
            fp32 = fp32 or export_onnx(checkpoint, Path(tmp) / "fp32.onnx")
            try:
                quantize_file(fp32, prepared, int8)
                break
            except FastNSTError:
                raise
            except Exception as exc:
                if not cached or attempt:
                    raise FastNSTError(f"int8 quantization failed: {first_line(exc)}", exit_code=1) from None
                fp32.unlink(missing_ok=True)
        stylizer = OnnxStylizer(int8, threads)
    stylizer.style_name, stylizer.style_names = checkpoint.style_name, list(checkpoint.style_names)
    return stylizer
