"""``say``: an error raised below the language layer, said in the learner's language from
the template it keeps — the engine's (``core.numerics.said``) and the file helpers'
(``_io``, which imports nothing of the package: its reasons are ``Phrase`` strings with
their own template). A phrase inside a phrase (the kind of file inside the reason, inside
the refusal) is translated too; the English is the message as raised, byte for byte."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import autograd_bp._io as io
from autograd_bp._io import (
    FileTooLargeError,
    NotRegularFileError,
    Phrase,
    atomic_write_text,
    read_regular_file,
    require,
)
from autograd_bp.locale import say, use_language


def refusal(call: Callable[..., object], *args: object) -> BaseException:
    with pytest.raises(OSError) as caught:
        call(*args)
    return caught.value


def in_both(error: BaseException | str) -> tuple[str, str]:
    with use_language("en"):
        en = say(error)
    with use_language("zh"):
        zh = say(error)
    return en, zh


def test_a_symlink_to_a_fifo_is_said_in_chinese_three_phrases_deep(tmp_path: Path) -> None:
    fifo, link = tmp_path / "pipe", tmp_path / "link.json"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    error = refusal(atomic_write_text, link, "{}")
    assert isinstance(error, NotRegularFileError)
    en, zh = in_both(error)
    assert en == str(error) == (f"cannot write '{link}': it is a symlink to '{fifo}', which is "
                                "a FIFO (named pipe), not a regular file")  # fmt: skip
    # the outer sentence, the reason and the kind of file inside it: all three in Chinese
    reason = f"它是指向 '{fifo}' 的符号链接，而那是命名管道（FIFO），不是普通文件"
    assert zh == f"无法写入 '{link}'：{reason}"
    with use_language("zh"):
        assert say(error.reason) == reason


@pytest.mark.parametrize("path, kind, zh_kind", [
    ("/dev/zero", "a character device", "字符设备"), ("/", "a directory", "目录"),
])  # fmt: skip
def test_reading_what_is_not_a_regular_file(path: str, kind: str, zh_kind: str) -> None:
    en, zh = in_both(refusal(read_regular_file, path, 1024))
    assert en == f"cannot read '{path}': it is {kind}, not a regular file"
    assert zh == f"无法读取 '{path}'：它是{zh_kind}，不是普通文件"


def test_a_file_over_the_limit_keeps_its_numbers(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(FileTooLargeError) as caught:
        read_regular_file(path, 1000)
    en, zh = in_both(caught.value)
    assert en == f"cannot read '{path}': it holds 2,000 bytes, over the limit of 1,000 bytes"
    assert zh == f"无法读取 '{path}'：它有 2,000 字节，超过了 1,000 字节的上限"


def test_no_temporary_file_can_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name the temporary file could take is taken (the random part made constant)."""
    monkeypatch.setattr(io.secrets, "token_hex", lambda n: "ab" * n)
    (tmp_path / ".out.txt.abababababab.tmp").write_text("someone else's")
    error = refusal(atomic_write_text, tmp_path / "out.txt", "hi")
    en, zh = in_both(error)
    assert isinstance(error, FileExistsError)
    assert en == f"cannot create a temporary file beside '{tmp_path / 'out.txt'}'"
    assert zh == f"无法在 '{tmp_path / 'out.txt'}' 旁边创建临时文件"


def test_a_missing_extra_is_named_in_chinese() -> None:
    with pytest.raises(ImportError) as caught:
        require("autograd_bp_no_such_module", "train")
    en, zh = in_both(caught.value)
    assert en == ("autograd_bp_no_such_module is needed for this; install it with: pip install "
                  "'autograd_bp[train]'")  # fmt: skip
    assert zh == "这需要 autograd_bp_no_such_module；安装方法：pip install 'autograd_bp[train]'"


def test_what_keeps_no_template_is_said_as_it_is() -> None:
    """A plain string, a plain error, and a field that is no phrase (a number with its
    format spec) pass through untouched."""
    assert in_both("a learner's own words") == ("a learner's own words",) * 2
    assert in_both(ValueError("No such file or directory")) == ("No such file or directory",) * 2
    error = ValueError("x")
    error.template, error.fields = "{n:,} of {what}", {"n": 12345, "what": Phrase("a socket")}
    assert in_both(error) == ("12,345 of a socket", "12,345 of 套接字")
