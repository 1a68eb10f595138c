"""Reading documents into the plain text that fragments point into.

Plain text and Markdown are stored as they are (the splitter understands `#` headings).
HTML becomes text with its structure kept: `<h1>`–`<h6>` become `#` headings, block
elements become paragraphs, scripts and styles vanish. PDF goes through pypdf (pure
Python, maintained, no system libraries), one paragraph per text block, pages separated
by blank lines; it is optional, and a PDF without it is a clear error, not a crash.

Offsets of fragments refer to this extracted text, which is stored with the document:
the one text a hit can always be shown in.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from medley.application.errors import MedleyError

MEDIA_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
"""The suffixes the pipeline reads, and the media type stored for each."""


class UnsupportedDocumentError(MedleyError):
    """This document cannot be read (unknown type, or a reader that is not installed)."""


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """A document's name, type and extracted text, with the hash that identifies it."""

    name: str
    source: str
    media_type: str
    text: str

    @property
    def content_hash(self) -> str:
        """SHA-256 of the extracted text: ingesting the same content twice is one document."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def media_type(path: Path) -> str:
    """The media type for `path`'s suffix; raises `UnsupportedDocumentError` for others."""
    try:
        return MEDIA_TYPES[path.suffix.lower()]
    except KeyError:
        raise UnsupportedDocumentError(
            f"{path.name}: unsupported document type {path.suffix!r} "
            f"(supported: {', '.join(sorted(MEDIA_TYPES))})"
        ) from None


def read_document(path: Path) -> SourceDocument:
    """Read and convert one file. Blocking (file I/O, PDF parsing): call it in a thread."""
    kind = media_type(path)
    if kind == "application/pdf":
        text = pdf_to_text(path.read_bytes())
    else:
        raw = path.read_text(encoding="utf-8", errors="replace")
        text = html_to_text(raw) if kind == "text/html" else raw.replace("\r\n", "\n")
    return SourceDocument(name=path.name, source=str(path), media_type=kind, text=text)


_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
     "figure", "footer", "form", "header", "li", "main", "nav", "ol", "p", "pre", "section",
     "table", "tr", "ul"}
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head"})
_SPACES = re.compile(r"[ \t\r\f\v]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._current: list[str] = []
        self._skipping = 0
        self._heading: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._heading = int(tag[1])
        elif tag in _BLOCKS:
            self._flush()
        elif tag == "br":
            self._current.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _BLOCKS or re.fullmatch(r"h[1-6]", tag):
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._current.append(data)

    def _flush(self) -> None:
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(self._current).split("\n"))
        text = " ".join(line for line in lines if line)
        if text:
            prefix = "#" * self._heading + " " if self._heading else ""
            self.paragraphs.append(prefix + text)
        self._current = []
        self._heading = None


def html_to_text(html: str) -> str:
    """HTML as paragraphs separated by blank lines, headings as Markdown `#` lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    parser._flush()
    return "\n\n".join(parser.paragraphs)


def pdf_to_text(data: bytes) -> str:
    """The text of every page (pypdf), pages separated by blank lines."""
    try:
        from io import BytesIO

        from pypdf import PdfReader
    except ImportError:
        raise UnsupportedDocumentError("reading PDF needs pypdf: install medley[ai]") from None
    reader = PdfReader(BytesIO(data))
    pages = [(page.extract_text() or "").replace("\r\n", "\n").strip() for page in reader.pages]
    return "\n\n".join(page for page in pages if page)
