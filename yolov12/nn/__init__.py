"""Model building blocks: area attention, the attention block, R-ELAN, and their Ultralytics integration."""

from .attention import AreaAttention, Projection
from .blocks import RELAN, AttnBlock
from .knobs import Knobs, KnobError

__all__ = ["RELAN", "AreaAttention", "AttnBlock", "KnobError", "Knobs", "Projection"]
