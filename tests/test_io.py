"""Atomic writes leave the old file or the new one, never half of either, and write only
regular files (through symlinks); reads are bounded and never block; missing extras name
the extra to install."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp._io import (
    FileTooLargeError,
    NotRegularFileError,
    atomic_write,
    atomic_write_text,
    dumps_strict,
    file_kind,
    read_file_head,
    read_regular_file,
    require,
)
from autograd_bp.cli import main


def test_atomic_write_replaces_the_file(tmp_path) -> None:
    path = atomic_write_text(tmp_path / "sub" / "f.txt", "new")
    assert path.read_text() == "new" and list(path.parent.iterdir()) == [path]


def test_a_crash_mid_write_keeps_the_old_file_and_no_temp(tmp_path) -> None:
    path = atomic_write_text(tmp_path / "f.txt", "old")

    def crash(tmp) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(path, crash)
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]


def test_a_missing_extra_names_what_to_install() -> None:
    with pytest.raises(ImportError, match=r"pip install 'autograd_bp\[train\]'"):
        require("no_such_module_for_autograd_bp", "train")


def _with_umask(mask: int, fn):
    old = os.umask(mask)
    try:
        return fn()
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_respects_the_umask(tmp_path, mask, mode) -> None:
    path = _with_umask(mask, lambda: atomic_write_text(tmp_path / "f.txt", "x"))
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_replacing_a_file_keeps_its_mode(tmp_path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("old")
    path.chmod(0o640)
    _with_umask(0o022, lambda: atomic_write_text(path, "new"))
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path) -> None:
    real = tmp_path / "real" / "model.json"
    real.parent.mkdir()
    real.write_text("old")
    real.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert atomic_write_text(link, "new") == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new" and stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]
    assert [p.name for p in real.parent.iterdir()] == ["model.json"]  # no temp left


def test_a_chain_of_relative_symlinks_is_followed_to_the_end(tmp_path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    (tmp_path / "b").symlink_to("real.txt")
    (tmp_path / "a").symlink_to("b")
    atomic_write_text(tmp_path / "a", "new")
    assert real.read_text() == "new" and not real.is_symlink()
    assert os.readlink(tmp_path / "a") == "b" and os.readlink(tmp_path / "b") == "real.txt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "real.txt"]


def _refused(path, *words: str) -> None:
    """Writing ``path`` raises NotRegularFileError (an OSError) in one line naming it."""
    with pytest.raises(NotRegularFileError) as info:
        atomic_write_text(path, "new")
    message = str(info.value)
    assert isinstance(info.value, OSError) and "\n" not in message
    assert str(path) in message and all(w in message for w in words), message


def _entries(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_a_dangling_symlink_is_refused_and_left_as_it_is(tmp_path) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "nowhere" / "made.txt")
    _refused(link, "dangling symlink", "nowhere")
    assert os.readlink(link) == str(tmp_path / "nowhere" / "made.txt")
    assert _entries(tmp_path) == ["link.txt"]  # no target, no directory, no temp


@pytest.mark.parametrize("loop", [["a"], ["a", "b"], ["a", "b", "c"]])
def test_a_symlink_loop_is_refused_and_left_as_it_is(tmp_path, loop) -> None:
    for name, nxt in zip(loop, loop[1:] + loop[:1]):
        (tmp_path / name).symlink_to(nxt)
    _refused(tmp_path / "a", "symlink loop")
    assert all((tmp_path / n).is_symlink() for n in loop) and _entries(tmp_path) == loop


def test_a_fifo_is_refused_directly_and_through_a_link(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    _refused(fifo, "FIFO")
    _refused(tmp_path / "link", "FIFO", "a symlink to", str(fifo))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _entries(tmp_path) == ["link", "pipe"]


def test_a_socket_is_refused_and_left_as_it_is(tmp_path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        _refused(path, "a socket")
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def _device(tmp_path, name: str, minor: int):
    """/dev/<name> itself when we are not root (the write cannot succeed anyway); as root, a
    node for the same device in tmp_path: a regression must not replace the real one."""
    if os.geteuid() != 0:
        return Path("/dev") / name
    node = tmp_path / name
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return node


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/null and /dev/full")
@pytest.mark.parametrize("name, minor", [("null", 3), ("full", 7)])
def test_a_device_is_refused_and_stays_a_device(tmp_path, name, minor) -> None:
    device = _device(tmp_path, name, minor)
    _refused(device, "character device")
    (tmp_path / "link").symlink_to(device)
    _refused(tmp_path / "link", "character device")
    st = os.lstat(device)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, minor)
    assert not list(device.parent.glob(f".{name}.*.tmp"))


def test_a_directory_is_refused_directly_and_through_a_link(tmp_path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("kept")
    (tmp_path / "link").symlink_to(folder)
    _refused(folder, "a directory")
    _refused(tmp_path / "link", "a directory")
    assert _entries(folder) == ["keep.txt"] and (tmp_path / "link").is_symlink()


def test_a_hard_link_keeps_the_old_contents_under_its_other_name(tmp_path) -> None:
    # The documented behaviour (docs/guarantees.md): the rename replaces the directory
    # entry written to; the file's other names still point at the old inode.
    path, other = tmp_path / "model.json", tmp_path / "backup.json"
    path.write_text("old")
    os.link(path, other)
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and other.read_text() == "old"
    assert path.stat().st_ino != other.stat().st_ino and other.stat().st_nlink == 1


def _snapshot(directory: Path) -> dict[str, tuple[str, str]]:
    """name -> (kind, link target or file contents): everything a write could change."""
    out = {}
    for p in sorted(directory.iterdir()):
        if p.is_symlink():
            out[p.name] = ("link", os.readlink(p))
        elif p.is_file():
            out[p.name] = ("file", p.read_text())
        else:
            out[p.name] = (file_kind(os.lstat(p).st_mode), "")
    return out


@settings(max_examples=60, deadline=None)
@given(
    end=st.sampled_from(["file", "none", "directory", "fifo", "loop"]),
    hops=st.lists(st.booleans(), max_size=3),  # one symlink per entry: relative (True) or absolute
)
def test_a_write_reaches_a_regular_file_through_any_chain_or_changes_nothing(end, hops) -> None:
    with tempfile.TemporaryDirectory() as name:
        d = Path(name)
        final = d / "end"
        {"file": lambda: final.write_text("old"), "none": lambda: None,
         "directory": final.mkdir, "fifo": lambda: os.mkfifo(final),
         "loop": lambda: final.symlink_to("end")}[end]()  # fmt: skip
        path = final
        for i, relative in enumerate(hops):
            link = d / f"link{i}"
            link.symlink_to(path.name if relative else path)
            path = link
        before = _snapshot(d)
        writable = end == "file" or (end == "none" and not hops)
        if writable:
            atomic_write_text(path, "new")
            before["end"] = ("file", "new")
        else:
            with pytest.raises(NotRegularFileError, match=re.escape(repr(str(path)))):
                atomic_write_text(path, "new")
        assert _snapshot(d) == before  # links still links, nothing else touched, no temp


def test_every_refusal_leaves_no_temp_file_and_writes_nothing(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    called = []
    with pytest.raises(NotRegularFileError):
        atomic_write(fifo, called.append)
    assert called == [] and _entries(tmp_path) == ["pipe"]


def test_the_cli_reports_a_refused_save_in_one_line(tmp_path, capsys) -> None:
    fifo = tmp_path / "sheet.md"
    os.mkfifo(fifo)
    assert main(["exercise", "--markdown", str(fifo), "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FIFO" in err and str(fifo) in err, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_reading_stops_at_the_limit_without_reading_on(tmp_path) -> None:
    path = tmp_path / "big"
    with open(path, "wb") as f:
        f.truncate(2**40)  # a sparse terabyte: refused from its size, nothing read
    with pytest.raises(FileTooLargeError, match="1,099,511,627,776 bytes, over the limit of 1,000"):
        read_regular_file(path, 1000)
    path.write_bytes(b"x" * 1000)
    assert read_regular_file(path, 1000) == b"x" * 1000


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_file_that_reports_size_zero_is_still_cut_at_the_limit() -> None:
    assert os.stat("/proc/self/status").st_size == 0  # and it holds hundreds of bytes
    with pytest.raises(FileTooLargeError, match="holds more, over the limit of 10 bytes"):
        read_regular_file("/proc/self/status", 10)


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM interrupts a blocking open (of a FIFO, say)."""

    def fail(signum, frame) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero and SIGALRM")
def test_reading_refuses_what_is_not_a_regular_file(tmp_path) -> None:
    # Refused from stat before any open: a FIFO with no writer is not waited on.
    os.mkfifo(tmp_path / "pipe")
    for path, kind in [("/dev/zero", "character device"), (tmp_path, "directory"),
                       (tmp_path / "pipe", "FIFO")]:  # fmt: skip
        for read in (read_regular_file, read_file_head):
            with _alarm(5), pytest.raises(NotRegularFileError, match=kind):
                read(path, 1000)


def test_the_head_of_a_file_is_its_first_bytes_however_large(tmp_path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"// mark\n" + b"x" * 10_000)
    assert read_file_head(path, 8) == b"// mark\n" and read_file_head(path, 10**9)[-1:] == b"x"


def test_strict_json_has_no_nan_or_infinity_tokens() -> None:
    text = dumps_strict({"v": float("nan"), "g": {"x": float("-inf"), "y": 1.5}})
    doc = json.loads(text, parse_constant=_refuse)
    assert doc["v"] is None and doc["g"] == {"x": None, "y": 1.5}
    assert doc["non_finite"] == {"v": "nan", "g.x": "-inf"}
    assert "non_finite" not in json.loads(dumps_strict({"v": 1.0}))


def _refuse(token: str) -> None:
    raise AssertionError(f"non-standard JSON token {token}")
