"""Atomic writes leave the old file or the new one, never half of either; missing extras
name the extra to install."""

from __future__ import annotations

import pytest

from autograd_bp._io import atomic_write, atomic_write_text, require


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
