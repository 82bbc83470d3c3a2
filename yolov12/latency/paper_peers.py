"""The ModelSpec of a peer (the list of peers is ``yolov12.peers``, light, derived from the paper's tables)."""

from __future__ import annotations

from ..peers import NOT_THE_PAPERS_MODEL, PEER_DEFINITIONS, peer_table, peers

__all__ = ["NOT_THE_PAPERS_MODEL", "PEER_DEFINITIONS", "peer_spec", "peer_table", "peers"]


def peer_spec(name: str):
    """The ``ModelSpec`` of a peer (detection, the paper's 80 COCO classes)."""
    from ..errors import UserError
    from .spec import ModelSpec

    for p in peer_table():
        if p["name"] == name:
            return ModelSpec(ultralytics=p["ultralytics"], nc=80)
    raise UserError(f"{name!r} is not a peer of the paper's tables", key="peer", allowed=peers())
