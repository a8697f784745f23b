import hashlib

import pytest

from jinqiao.desk.attachments.domain import MAX_BYTES, check_file, clean_filename
from jinqiao.kit.crypto import DecryptionError, FieldCipher, generate_key
from jinqiao.kit.errors import InvalidArgument

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"


def fields_of(err: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in err.value.violations]


@pytest.mark.parametrize(("content", "declared", "expected"), [
    (PNG, "image/png", "image/png"), (JPEG, "image/jpeg", "image/jpeg"), (JPEG, "image/jpg", "image/jpeg"),
    (PDF, "application/pdf", "application/pdf"), (PDF, "application/octet-stream", "application/pdf"),
    (PNG, "", "image/png"), (PNG, "IMAGE/PNG; charset=binary", "image/png"),
])
def test_jpeg_png_and_pdf_are_typed_by_their_content(content, declared, expected):
    checked = check_file(filename="x", declared_type=declared, content=content)
    assert checked.content_type == expected
    assert checked.size_bytes == len(content)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("content", [EXE, HTML, b"just text", b"PK\x03\x04" + b"\x00" * 40])
def test_anything_but_jpeg_png_or_pdf_is_refused_on_content_whatever_its_declared_type(content):
    with pytest.raises(InvalidArgument) as err:
        check_file(filename="工资条.png", declared_type="image/png", content=content)
    assert fields_of(err) == ["content"]
    assert "仅支持 JPG、PNG、PDF 文件" in str(err.value)


def test_a_declared_type_disagreeing_with_the_content_names_content_type():
    with pytest.raises(InvalidArgument) as err:
        check_file(filename="合同.pdf", declared_type="application/pdf", content=PNG)
    assert fields_of(err) == ["content_type"]


def test_empty_and_oversized_files_are_refused_on_content():
    with pytest.raises(InvalidArgument) as err:
        check_file(filename="a.png", declared_type="image/png", content=b"")
    assert fields_of(err) == ["content"]
    with pytest.raises(InvalidArgument) as err:
        check_file(filename="a.png", declared_type="image/png", content=PNG + b"\x00" * MAX_BYTES)
    assert fields_of(err) == ["content"]


def test_exactly_five_mebibytes_is_accepted():
    content = PNG + b"\x00" * (MAX_BYTES - len(PNG))
    assert check_file(filename="a.png", declared_type="image/png", content=content).size_bytes == MAX_BYTES


@pytest.mark.parametrize(("name", "mime", "expected"), [
    ("../../etc/工资条.PNG", "image/png", "工资条.png"),
    ("C:\\Users\\zhang\\合同.pdf", "application/pdf", "合同.pdf"),
    ("欠薪\x00证据\r\n.jpg", "image/jpeg", "欠薪证据.jpg"),
    ("", "image/png", "附件.png"),
    ("...", "application/pdf", "附件.pdf"),
    ("病毒.exe", "image/png", "病毒.exe.png"),
    ("照片.jpeg", "image/jpeg", "照片.jpeg"),
    ("a" * 300 + ".pdf", "application/pdf", "a" * 96 + ".pdf"),
])
def test_file_names_lose_paths_and_control_characters_and_end_in_their_types_extension(name, mime, expected):
    cleaned = clean_filename(name, content_type=mime)
    assert cleaned == expected
    assert len(cleaned) <= 100


def test_binary_content_is_sealed_to_its_cell():
    cipher = FieldCipher(keys={1: generate_key()}, active=1)
    cell = {"tenant": "650430", "table": "ticket_attachments", "column": "content", "row": "r1"}
    blob = cipher.encrypt_bytes(PNG, **cell)
    assert PNG not in blob
    assert cipher.decrypt_bytes(blob, **cell) == PNG
    with pytest.raises(DecryptionError):
        cipher.decrypt_bytes(blob, **{**cell, "row": "r2"})
    with pytest.raises(DecryptionError):
        cipher.decrypt_bytes(blob, **{**cell, "tenant": "650431"})
