"""Image encoding for scanned pages: raw SANE rows in, WSD document bytes out."""
from .formats import (
    Encoder,
    EncoderError,
    RasterSpec,
    can_encode,
    create_encoder,
    supported_formats,
)

__all__ = [
    "Encoder",
    "EncoderError",
    "RasterSpec",
    "can_encode",
    "create_encoder",
    "supported_formats",
]
