"""Strict config loading and protocols as data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmark.config import ConfigError, from_mapping, load_toml
from benchmark.protocol import load_protocol


@dataclasses.dataclass(frozen=True)
class Inner:
    rate: float = 0.1
    names: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Outer:
    seed: int
    out: Path | None = None
    inner: Inner = Inner()
    flags: dict[str, bool] = dataclasses.field(default_factory=dict)


def test_from_mapping_converts_and_rejects() -> None:
    cfg = from_mapping(Outer, {"seed": 3, "out": "x", "inner": {"rate": 1, "names": ["a"]}, "flags": {"f": True}})
    assert cfg == Outer(3, Path("x"), Inner(1.0, ("a",)), {"f": True})
    with pytest.raises(ConfigError, match=r"config: unknown key 'sed'; did you mean 'seed'\?"):
        from_mapping(Outer, {"sed": 1})
    with pytest.raises(ConfigError, match=r"config.inner: unknown key 'rat'"):
        from_mapping(Outer, {"seed": 1, "inner": {"rat": 2}})
    with pytest.raises(ConfigError, match=r"config.seed: expected an integer, got '3'"):
        from_mapping(Outer, {"seed": "3"})
    with pytest.raises(ConfigError, match=r"config.seed: expected an integer, got True"):
        from_mapping(Outer, {"seed": True})
    with pytest.raises(ConfigError, match=r"config.inner.names\[1\]: expected a string, got 2"):
        from_mapping(Outer, {"seed": 1, "inner": {"names": ["a", 2]}})
    with pytest.raises(ConfigError, match="missing required key 'seed'"):
        from_mapping(Outer, {})


def test_load_toml_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("seed = 1\nextra = 2\n")
    with pytest.raises(ConfigError, match=r"c.toml: unknown key 'extra'"):
        load_toml(Outer, bad)
    bad.write_text("seed = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(Outer, bad)
    with pytest.raises(FileNotFoundError, match="nope.toml does not exist"):
        load_toml(Outer, tmp_path / "nope.toml")


def test_paper_protocol_sizes_and_scaling() -> None:
    p = load_protocol("paper")
    assert p.group_sizes(124) == {"recognizers": 50, "gn": 10, "stgan": 16, "validation": 8, "test": 40}
    # 40 subjects: exact shares 16.13, 3.23, 5.16, 2.58, 12.90 -> floors 16, 3, 5, 2, 12 (38); the two largest
    # remainders (validation .58, test .90) get one more each.
    assert p.group_sizes(40) == {"recognizers": 16, "gn": 3, "stgan": 5, "validation": 3, "test": 13}
    assert p.group_sizes(5) == {"recognizers": 1, "gn": 1, "stgan": 1, "validation": 1, "test": 1}
    for n in range(5, 130):
        assert sum(p.group_sizes(n).values()) == n
    groups = p.assign([f"{i:03d}" for i in range(124, 0, -1)])
    assert groups["recognizers"][0] == "001" and groups["recognizers"][-1] == "050"
    assert groups["test"] == [f"{i:03d}" for i in range(85, 125)]
    with pytest.raises(ValueError, match="needs at least 5 subjects"):
        p.group_sizes(4)
    lt = load_protocol("lt")
    assert lt.assign([f"{i:03d}" for i in range(1, 125)])["test"][0] == "075"
    assert lt.probes["cl"] == ("cl-01", "cl-02") and lt.gallery == ("nm-01", "nm-02", "nm-03", "nm-04")


def test_unknown_protocol() -> None:
    with pytest.raises(ConfigError, match="unknown protocol 'papr'"):
        load_protocol("papr")


def test_one_split_keeps_its_groups_when_a_subject_folder_is_empty(tmp_path: Path) -> None:
    """Groups come from the subject folders: an emptied subject keeps its place, so no training subject moves
    into the test group (a split over subjects with readable sequences would shift every later subject)."""
    from benchmark.data.casia import CasiaB
    from benchmark.protocol import protocol_groups, tree_subjects
    from recognizers.toy import write_toy_tree

    root = write_toy_tree(tmp_path / "tree", subjects=range(8), conditions=("nm-01",), views=(90,), frames=2)
    protocol = load_protocol("paper")
    full = protocol_groups(root, protocol)
    for png in (root / "002").rglob("*.png"):
        png.unlink()  # 002's folders stay, without a frame
    assert tree_subjects(root) == [f"{i:03d}" for i in range(1, 9)]
    assert protocol_groups(root, protocol) == full
    readable = sorted({r.subject for r in CasiaB(root).index()})
    assert "002" not in readable and protocol.assign(readable) != full  # what the old split did
