"""A GGUF file's metadata (its key/value header), read with the standard library only.

The layout is llama.cpp's (``gguf-py/gguf/constants.py`` and ``ggml/src/gguf.cpp``): the magic
``GGUF``, a version (2 or 3), the tensor and key/value counts, then each key as a length-prefixed
UTF-8 string, a value type and the value; arrays carry their element type and length. Only the
header is read: tensor data is never touched, so a 100 MB model costs what its vocabulary costs.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)

# value type -> struct format of one scalar (GGUF_TYPE_* in llama.cpp)
_SCALARS = {
    0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d",
}
_STRING, _ARRAY = 8, 9


class GGUFFormatError(ValueError):
    """The file is not a GGUF, or its header is cut short or malformed."""


class _Cursor:
    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise GGUFFormatError(f"{self.path.name}: the GGUF header is truncated")
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return values

    def string(self) -> str:
        (length,) = self.take("Q")
        end = self.pos + length
        if end > len(self.buf):
            raise GGUFFormatError(f"{self.path.name}: the GGUF header is truncated")
        text = bytes(self.buf[self.pos:end]).decode("utf-8", errors="replace")
        self.pos = end
        return text

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])[0]
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            element, count = self.take("IQ")
            if element in _SCALARS:
                return list(self.take(f"{count}{_SCALARS[element]}"))
            return [self.value(element) for _ in range(count)]
        raise GGUFFormatError(f"{self.path.name}: unknown GGUF value type {kind}")


def read_gguf_metadata(path: str | Path) -> dict[str, Any]:
    """Every key/value of a GGUF file's header, arrays as lists.

    Raises :class:`GGUFFormatError` (a ``ValueError``) for a file that is not a GGUF, a version
    this reader does not know, or a header cut short; ``OSError`` if the file cannot be read.
    """
    path = Path(path)
    with path.open("rb") as handle:
        if path.stat().st_size < 24:
            raise GGUFFormatError(f"{path.name} is not a GGUF file (too short)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            cursor = _Cursor(buf, path)
            if bytes(buf[:4]) != GGUF_MAGIC:
                raise GGUFFormatError(f"{path.name} is not a GGUF file (no GGUF magic bytes)")
            cursor.pos = 4
            (version,) = cursor.take("I")
            if version not in SUPPORTED_VERSIONS:
                raise GGUFFormatError(f"{path.name} is GGUF version {version}; 2 and 3 are read")
            _tensors, count = cursor.take("QQ")
            metadata: dict[str, Any] = {}
            for _ in range(count):
                key = cursor.string()
                (kind,) = cursor.take("I")
                metadata[key] = cursor.value(kind)
            return metadata
