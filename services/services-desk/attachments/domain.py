"""Attachments: what a file may be (JPEG, PNG or PDF by its content, at most 5 MiB), its cleaned name and the
per-ticket limit. No I/O."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import filetype

from jinqiao.kit.errors import InvalidArgument

MAX_BYTES = 5 * 1024 * 1024
MAX_PER_TICKET = 10
FILENAME_MAX = 100
DEFAULT_FILENAME = "附件"
ONLY_THESE = "仅支持 JPG、PNG、PDF 文件"
# The media types accepted, each with the extensions its files may carry (the first is added when missing).
ALLOWED: dict[str, tuple[str, ...]] = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "application/pdf": (".pdf",),
}
# What browsers and phones declare for the same types.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf"}
# Declared types that say nothing (a phone's picker, curl): the content alone decides.
_UNSPECIFIC = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A file that passed: its media type by content, cleaned name, size and SHA-256 (hex)."""

    content_type: str
    filename: str
    size_bytes: int
    sha256: str


def media_type(declared: str) -> str:
    """A declared Content-Type without parameters, lower-cased, aliases folded."""
    value = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(value, value)


def sniff(content: bytes) -> str | None:
    """The media type the content's magic bytes show, when it is one the desk accepts."""
    kind = filetype.guess(content)
    mime = kind.mime if kind is not None else None
    return mime if mime in ALLOWED else None


def clean_filename(name: str, *, content_type: str) -> str:
    """A name safe to show and to offer for download: no path parts, no control characters, at most 100
    characters, ending in an extension of its type (added when missing or wrong); empty becomes 附件."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".").strip()
    extensions = ALLOWED[content_type]
    stem, dot, ext = base.rpartition(".")
    if dot and f".{ext.lower()}" in extensions:
        stem, suffix = stem.strip(), f".{ext.lower()}"
    else:
        stem, suffix = base, extensions[0]
    stem = stem[: FILENAME_MAX - len(suffix)].strip() or DEFAULT_FILENAME
    return stem + suffix


def check_file(*, filename: str, declared_type: str, content: bytes) -> CheckedFile:
    """Accept a JPEG, PNG or PDF of 1 byte to 5 MiB whose declared type (if it names one) agrees with its content;
    InvalidArgument on ``content`` or ``content_type`` otherwise."""
    if not content:
        raise InvalidArgument.field("content", "文件为空，请重新选择")
    if len(content) > MAX_BYTES:
        raise InvalidArgument.field("content", "文件不能超过 5 MB")
    found = sniff(content)
    if found is None:
        raise InvalidArgument.field("content", ONLY_THESE)
    declared = media_type(declared_type)
    if declared not in _UNSPECIFIC and declared != found:
        raise InvalidArgument.field("content_type", f"{ONLY_THESE}，且文件类型须与内容一致")
    return CheckedFile(content_type=found, filename=clean_filename(filename, content_type=found),
                       size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest())
