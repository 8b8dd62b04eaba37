"""Atomic writes leave the old file or the new one, never half of either; missing extras
name the extra to install."""

from __future__ import annotations

import json
import os
import stat

import pytest

from autograd_bp._io import atomic_write, atomic_write_text, dumps_strict, require


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


def test_a_dangling_symlink_creates_its_target(tmp_path) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "made.txt")
    atomic_write_text(link, "hi")
    assert link.is_symlink() and (tmp_path / "made.txt").read_text() == "hi"


def test_strict_json_has_no_nan_or_infinity_tokens() -> None:
    text = dumps_strict({"v": float("nan"), "g": {"x": float("-inf"), "y": 1.5}})
    doc = json.loads(text, parse_constant=_refuse)
    assert doc["v"] is None and doc["g"] == {"x": None, "y": 1.5}
    assert doc["non_finite"] == {"v": "nan", "g.x": "-inf"}
    assert "non_finite" not in json.loads(dumps_strict({"v": 1.0}))


def _refuse(token: str) -> None:
    raise AssertionError(f"non-standard JSON token {token}")
