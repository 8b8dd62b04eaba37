"""The file helpers' refusals in both languages, through real subprocesses: a FIFO, a
directory, a device, a file over the size limit given as a model file or an example file,
a symlink loop or a dangling symlink to save through, a --plot or --draw extension that
cannot be written. Each is one line with status 2, naming the same path and numbers in
both; the Chinese has Chinese prose and no English sentence left (the paths and the list
of extensions are the same in every language)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import chinese
from test_help_and_reports_in_chinese import english_left, numbers
from test_languages import one_line_error, run

from autograd_bp.nn.model_file import MAX_MODEL_BYTES
from autograd_bp.textbook.example_file import MAX_EXAMPLE_BYTES


def both(*args: str) -> tuple[str, str]:
    """The one-line error in English and in Chinese (--lang zh after the command)."""
    return one_line_error(run(*args)), one_line_error(run(*args, "--lang", "zh"))


def same_facts(en: str, zh: str, path: Path | str) -> None:
    """Both lines name the path and the same numbers; the Chinese is prose in Chinese."""
    assert f"'{path}'" in en and f"'{path}'" in zh, (en, zh)
    assert numbers(en) == numbers(zh), (en, zh)
    assert en.startswith("autograd-bp: error: ") and not chinese(en)
    assert zh.startswith("autograd-bp: 错误：") and chinese(zh)
    assert not english_left(zh.replace(str(path), "")), zh


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_fifo_or_a_directory_given_as_a_model_file(
        kind: str, fifo: Path, tmp_path: Path) -> None:  # fmt: skip
    path = fifo if kind == "fifo" else tmp_path
    en, zh = both("train", "xor", "--load", str(path))
    same_facts(en, zh, path)
    if kind == "fifo":
        assert en.endswith(f"cannot read model file '{path}': it is a FIFO (named pipe), "
                           "not a regular file")  # fmt: skip
        assert zh.endswith(f"无法读取模型文件 '{path}'：它是命名管道（FIFO），不是普通文件")
    else:
        assert en.endswith("it is a directory, not a regular file")
        assert zh.endswith(f"无法读取模型文件 '{path}'：它是目录，不是普通文件")


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_fifo_a_directory_or_a_device_given_as_an_example_file(
        kind: str, fifo: Path, tmp_path: Path) -> None:  # fmt: skip
    path = {"fifo": fifo, "directory": tmp_path, "device": Path("/dev/zero")}[kind]
    en, zh = both("demo", "--example", str(path))
    same_facts(en, zh, path)
    said = {"fifo": "命名管道（FIFO）", "directory": "目录", "device": "字符设备"}[kind]
    assert zh == f"autograd-bp: 错误：无法读取 '{path}'：它是{said}，不是普通文件"
    if kind == "device":  # the English is the doctest's, byte for byte
        assert en == ("autograd-bp: error: cannot read '/dev/zero': it is a character device, "
                      "not a regular file")  # fmt: skip


def test_a_model_file_over_the_limit(tmp_path: Path) -> None:
    """A sparse file: its size is refused from fstat, before a byte is read."""
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(MAX_MODEL_BYTES + 1)
    en, zh = both("train", "xor", "--load", str(path))
    same_facts(en, zh, path)
    assert en.endswith(f"it holds {MAX_MODEL_BYTES + 1:,} bytes, over the limit of "
                       f"{MAX_MODEL_BYTES:,} bytes")  # fmt: skip
    assert zh.endswith(f"它有 {MAX_MODEL_BYTES + 1:,} 字节，超过了 {MAX_MODEL_BYTES:,} 字节的上限")


def test_an_example_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * (MAX_EXAMPLE_BYTES + 1))
    en, zh = both("demo", "--example", str(path))
    same_facts(en, zh, path)
    assert zh == (f"autograd-bp: 错误：无法读取 '{path}'：它有 {MAX_EXAMPLE_BYTES + 1:,} 字节，"
                  f"超过了 {MAX_EXAMPLE_BYTES:,} 字节的上限")  # fmt: skip


@pytest.mark.parametrize("link", ["loop", "dangling"])
def test_saving_through_a_symlink_loop_or_a_dangling_symlink(tmp_path: Path, link: str) -> None:
    path = tmp_path / "model.json"
    path.symlink_to(path if link == "loop" else tmp_path / "gone" / "model.json")
    en, zh = both("train", "xor", "--epochs", "1", "--save", str(path))
    assert en.startswith(f"autograd-bp: error: cannot write '{path}': it is a ")
    assert zh.startswith(f"autograd-bp: 错误：无法写入 '{path}'：它是一个")
    assert ("符号链接循环" if link == "loop" else "悬空的符号链接") in zh
    assert not english_left(zh.replace(str(tmp_path), "")) and path.is_symlink()


def test_a_plot_extension_that_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "loss.xyz"
    en, zh = both("train", "xor", "--plot", str(path))
    same_facts(en, zh, path)
    extensions = en.rsplit("must be one of ", 1)[1]
    assert en.startswith(f"autograd-bp: error: --plot: cannot write '{path}': the extension "
                         "must be one of .")  # fmt: skip
    assert zh == f"autograd-bp: 错误：--plot：无法写入 '{path}'：扩展名必须是以下之一：{extensions}"
    assert not path.exists()


def test_a_draw_format_that_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "graph.xyz"
    en, zh = both("grad", "x*y", "x=1", "y=2", "--draw", str(path))
    assert en == "autograd-bp: error: render: format must be svg, png or pdf, got 'xyz'"
    assert zh == "autograd-bp: 错误：render：格式必须是 svg、png 或 pdf，实际为 'xyz'"
