"""Peers: the detectors paper Tables 1 and 4 compare YOLOv12 with, timed from Ultralytics' own definitions.
Light (csv only): the workflow's parse expands a study's ``peers:`` key from here.

The list is derived from the paper's tables as shipped in ``yolov12/report/paper`` (one list: the paper's rows):
every row of Table 4 (YOLOv9 T/S/M/C/E, YOLOv10 N/S/M/B, YOLO11 N/S/M/L/X) and every Table 1 row of a family that
Ultralytics defines (YOLOv6-3.0, YOLOv8, YOLOv9, YOLOv10 incl. L/X, YOLO11), at the paper's scales. Each peer is
built from its Ultralytics YAML with random weights (``ModelSpec(ultralytics="yolov9t.yaml")``), so it is timed
exactly like YOLOv12 and never downloads anything.

``PEER_DEFINITIONS`` maps the paper's family names to Ultralytics' YAML names; a family missing there (Gold-YOLO,
RT-DETR) is not a peer.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

PAPER_DIR = Path(__file__).resolve().parent / "report" / "paper"
# paper family name -> Ultralytics model YAML (scale in the file name, as Ultralytics resolves it)
PEER_DEFINITIONS = {"YOLOv6-3.0": "yolov6{scale}.yaml", "YOLOv8": "yolov8{scale}.yaml", "YOLOv9": "yolov9{scale}.yaml",
                    "YOLOv10": "yolov10{scale}.yaml", "YOLO11": "yolo11{scale}.yaml", "YOLOv11": "yolo11{scale}.yaml"}
# where Ultralytics' definition is not the paper's model, its FLOPs are not comparable with the paper's column
NOT_THE_PAPERS_MODEL = {
    "YOLOv6-3.0": "Ultralytics' yolov6.yaml is its own YOLOv6 variant, not the official YOLOv6-3.0 network: at 640 "
                  "its N / M / L have 1.1x / 1.9x / 2.6x the paper's GFLOPs, so neither FLOPs nor speed compare "
                  "with the paper's YOLOv6-3.0 rows",
}


def _rows(name: str) -> list[dict]:
    with open(PAPER_DIR / name, newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


@lru_cache(maxsize=1)
def peer_table() -> tuple[dict, ...]:
    """One record per peer: name, paper family, scale, Ultralytics YAML, the paper's GFLOPs, the tables it is in."""
    peers: dict[str, dict] = {}
    for table, rows in (("Table 4", _rows("table4_speed.csv")), ("Table 1", _rows("table1_coco.csv"))):
        for r in rows:
            family = r["family"]
            if family not in PEER_DEFINITIONS:
                continue
            scale = r["scale"] if table == "Table 4" else r["model"].rsplit("-", 1)[1].lower()
            yaml = PEER_DEFINITIONS[family].format(scale=scale)
            name = yaml.removesuffix(".yaml")
            rec = peers.setdefault(name, {"name": name, "family": family, "scale": scale, "ultralytics": yaml,
                                          "paper_gflops": None, "tables": [],
                                          "flops_comparable": family not in NOT_THE_PAPERS_MODEL,
                                          "note": NOT_THE_PAPERS_MODEL.get(family, "")})
            rec["tables"].append(table)
            if rec["paper_gflops"] is None and r.get("flops_g"):
                rec["paper_gflops"] = float(r["flops_g"])
    families = list(dict.fromkeys(PEER_DEFINITIONS.values()))  # YOLOv11 and YOLO11 are one family
    return tuple(sorted(peers.values(), key=lambda p: families.index(PEER_DEFINITIONS[p["family"]])))


def peers(table: str | None = None) -> tuple[str, ...]:
    """Peer names (e.g. ``yolov9t``), paper order; ``table="Table 4"`` for the speed comparison's rows only."""
    return tuple(p["name"] for p in peer_table() if table is None or table in p["tables"])


# the paper's scale letters by model size class (for a config's `scales` filter): T/N ~ N, C/B ~ L, E ~ X
SIZE_CLASS = {"t": "n", "n": "n", "s": "s", "m": "m", "c": "l", "b": "l", "l": "l", "e": "x", "x": "x"}


def size_class(name: str) -> str:
    for p in peer_table():
        if p["name"] == name:
            return SIZE_CLASS[p["scale"]]
    raise KeyError(name)
