"""Image encoding for scanned pages: raw SANE rows in, WSD document bytes out."""
from .document import DocumentEncoder, create_document_encoder, is_multi_page
from .formats import (
    Encoder,
    EncoderError,
    RasterSpec,
    can_encode,
    create_encoder,
    supported_formats,
)

__all__ = [
    "DocumentEncoder",
    "Encoder",
    "EncoderError",
    "RasterSpec",
    "can_encode",
    "create_document_encoder",
    "create_encoder",
    "is_multi_page",
    "supported_formats",
]
