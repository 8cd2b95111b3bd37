"""Computes every part of gaitbench that no torch training touches and prints it as JSON, at full precision.

Run by ``tests/test_portability.py`` in subprocesses under different CPU kernel settings (``ATEN_CPU_CAPABILITY``,
``OPENBLAS_CORETYPE``); the test compares what they print. Usage: ``python tests/portability_probe.py WORKDIR``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def main(work: Path) -> dict:
    from benchmark.anonymizer import anonymizer_class
    from benchmark.data.casia import CasiaB
    from benchmark.protocol import load_protocol
    from benchmark.recognizer import FitOptions
    from benchmark.retrieval import topk_hits
    from benchmark.scorers.action import SynthActionScorer
    from benchmark.scorers.hog import HOGScorer
    from benchmark.sequences import load_sequences
    from benchmark.synth.world import WorldConfig, generate
    from recognizers.toy import write_toy_tree
    from recognizers.zheng2011 import Zheng2011

    out: dict = {}
    # The world: one rendered walker (silhouettes, colour video, background), byte for byte.
    world = work / "world"
    generate(WorldConfig("ci", subjects=1, views=(54,), conditions=("nm-01",), frame_range=(32, 32)), world,
             workers=1, log=None)
    out["world"] = {str(p.relative_to(world)): hashlib.sha256(p.read_bytes()).hexdigest()
                    for p in sorted(world.rglob("*")) if p.is_file() and p.suffix != ".json"}
    data = CasiaB(world)
    seq = data.load(data.index()[0], frames=True, background=True)

    # The classic methods: exact outputs.
    for name in ("blur", "pixelate", "mask"):
        anon = anonymizer_class(name)().anonymize(seq, seed=0)
        out[name] = digest(anon.silhouettes, anon.frames)

    # The naturalness scorers that use fixed weights.
    out["frame-hog"] = HOGScorer().score_frames(seq.frames, seq.silhouettes).tolist()
    out["video-synth"] = SynthActionScorer().score_frames(seq.frames).tolist()

    # zheng2011 (no torch) trained and evaluated on a toy tree: distances and identification decisions.
    toy = write_toy_tree(work / "toy", subjects=range(8), views=(0, 90), frames=10)
    protocol = work / "p.toml"
    protocol.write_text(
        'name = "p"\ndescription = "4 train / 4 test"\nviews = [0, 90]\n'
        'gallery = ["nm-01", "nm-02", "nm-03", "nm-04"]\n[groups]\nrecognizers = 4\ntest = 4\n'
        '[probes]\nnm = ["nm-05", "nm-06"]\nbg = ["bg-01"]\ncl = ["cl-01"]\n'
    )
    proto = load_protocol(str(protocol))
    groups = proto.assign([f"{s + 1:03d}" for s in range(8)])
    rec = Zheng2011()
    read = {"views": proto.views, "workers": 1, "cache_dir": work / "cache"}
    rec.fit(load_sequences(toy, rec.spec, subjects=groups["recognizers"], **read), options=FitOptions(progress=False))
    gallery = load_sequences(toy, rec.spec, subjects=groups["test"], conditions=proto.gallery, **read)
    for cond, names in proto.probes.items():
        probes = load_sequences(toy, rec.spec, subjects=groups["test"], conditions=names, **read)
        d = rec.distance(gallery, probes)
        hits = topk_hits(d, probes.subjects, gallery.subjects, (1, 3))
        out[f"zheng2011-{cond}"] = {"distance": d.ravel().tolist(), "top1": hits[1].tolist(),
                                    "top3": hits[3].tolist()}
    return out


if __name__ == "__main__":
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    json.dump(main(work), sys.stdout)
