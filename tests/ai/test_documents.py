"""Reading documents: plain text and Markdown as they are, HTML with its structure,
PDF through pypdf; anything else is refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from medley.infrastructure.ai.documents import (
    UnsupportedDocumentError,
    html_to_text,
    read_document,
)
from medley.infrastructure.ai.fragments import split_fragments

pytestmark = pytest.mark.unit


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page, xref offsets computed."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for text in pages:
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        content_id = len(objects) + 1
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        kids.append(len(objects) + 1)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R"
            " /Resources << /Font << /F1 << /Type /Font /Subtype /Type1"
            " /BaseFont /Helvetica >> >> >> >>"
        )
    refs = " ".join(f"{k} 0 R" for k in kids)
    objects[1] = f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def test_markdown_is_stored_as_written(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Title\r\n\r\nBody text.\r\n", encoding="utf-8")

    document = read_document(path)

    assert document.media_type == "text/markdown"
    assert document.text == "# Title\n\nBody text.\n"
    assert document.name == "notes.md"


def test_html_keeps_headings_and_paragraphs_and_drops_scripts() -> None:
    html = """<html><head><title>x</title><style>p {}</style></head><body>
        <h1>Lighthouses</h1><p>Keepers trimmed the <b>wick</b>
        every night.</p><script>alert(1)</script>
        <h2>Lenses</h2><ul><li>Fresnel</li><li>Catadioptric &amp; more</li></ul></body></html>"""

    text = html_to_text(html)

    assert text == (
        "# Lighthouses\n\nKeepers trimmed the wick every night.\n\n## Lenses\n\n"
        "Fresnel\n\nCatadioptric & more"
    )
    assert [f.section for f in split_fragments(text)] == ["Lighthouses", "Lenses"]


def test_pdf_text_is_extracted_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(minimal_pdf(["First page text.", "Second page text."]))

    document = read_document(path)

    assert document.media_type == "application/pdf"
    assert document.text == "First page text.\n\nSecond page text."


def test_an_unknown_type_is_refused_with_the_supported_list(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK")

    with pytest.raises(UnsupportedDocumentError, match=r"\.xlsx.*\.md"):
        read_document(path)


def test_the_same_content_has_the_same_hash_whatever_its_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("same words", encoding="utf-8")
    (tmp_path / "b.txt").write_text("same words", encoding="utf-8")

    first, second = read_document(tmp_path / "a.txt"), read_document(tmp_path / "b.txt")

    assert first.content_hash == second.content_hash
