"""Image encoding for scanned pages: raw SANE rows in, file bytes out, streamed.

- ``formats``: the one format table (content type, codec, lossless, multi-page, layouts, row size);
- ``raster``: the raw rows of a page and the image's window in them;
- ``page``: one page through one row codec, streamed or spooled;
- ``document``: the files, of one page or many (TIFF, PDF/A);
- ``headers``, ``pdfa``: the bytes that depend on geometry only; ``_encoder``: the C row codecs.
"""
from .document import DocumentEncoder, create_document_encoder
from .formats import FORMATS, FileFormat, RowStorage, can_encode, format_info, is_multi_page, supported_formats
from .raster import RasterSpec
from ._encoder import EncoderError

__all__ = [
    "DocumentEncoder",
    "EncoderError",
    "FORMATS",
    "FileFormat",
    "RasterSpec",
    "RowStorage",
    "can_encode",
    "create_document_encoder",
    "format_info",
    "is_multi_page",
    "supported_formats",
]
