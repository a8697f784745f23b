"""A fake camera for browser tests: a QR code (or any grey picture) as a Y4M video file Chromium plays as its webcam.

Chromium's ``--use-file-for-fake-video-capture=<file.y4m>`` loops a YUV4MPEG2 file: a text header, then frames of
planar I420 (a full-size luma plane and two quarter-size chroma planes). A grey picture needs only luma; both chroma
planes are the neutral 128.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import segno

WIDTH = 640
HEIGHT = 480
WHITE = 255
BLACK = 0


def blank(width: int = WIDTH, height: int = HEIGHT) -> bytearray:
    """A white luma plane."""
    return bytearray([WHITE]) * (width * height)


def qr_picture(text: str, *, width: int = WIDTH, height: int = HEIGHT, fill: float = 0.8) -> bytearray:
    """A luma plane with a QR code of ``text`` (segno, error level M) in the middle, quiet zone included."""
    matrix = segno.make(text, error="m", micro=False).matrix
    modules = len(matrix)
    quiet = 4
    module = max(1, int(min(width, height) * fill) // (modules + 2 * quiet))
    side = module * modules
    left, top = (width - side) // 2, (height - side) // 2
    plane = blank(width, height)
    for row, bits in enumerate(matrix):
        for col, dark in enumerate(bits):
            if not dark:
                continue
            for y in range(top + row * module, top + (row + 1) * module):
                start = y * width + left + col * module
                plane[start:start + module] = bytes([BLACK]) * module
    return plane


def place(grey: Sequence[int], src_width: int, src_height: int, *, width: int = WIDTH,
          height: int = HEIGHT) -> bytearray:
    """A grey picture (row-major luma, e.g. read from a page's canvas) centred on a white frame, shrunk if needed."""
    scale = min(1.0, width / src_width, height / src_height)
    out_w, out_h = int(src_width * scale), int(src_height * scale)
    left, top = (width - out_w) // 2, (height - out_h) // 2
    plane = blank(width, height)
    for y in range(out_h):
        sy = min(src_height - 1, int(y / scale))
        row = (top + y) * width + left
        for x in range(out_w):
            plane[row + x] = grey[sy * src_width + min(src_width - 1, int(x / scale))]
    return plane


def write_y4m(path: Path, luma: bytes | bytearray, *, width: int = WIDTH, height: int = HEIGHT,
              frames: int = 5, fps: int = 10) -> Path:
    """A YUV4MPEG2 file of ``frames`` identical grey frames."""
    if len(luma) != width * height or width % 2 or height % 2:
        raise ValueError("the luma plane must be width × height, both even")
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(bytes(luma))
            out.write(chroma)
            out.write(chroma)
    return path


def camera_args(video: Path) -> list[str]:
    """Chromium flags that make ``video`` the camera and answer the permission prompt with yes."""
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]
