"""The links of a volume's chain and the interface every layer implements (layers.py holds
the registry and the explorer that follows the chain)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..errors import READ_ERRORS
from .sources import Source

LIB_ERRORS = READ_ERRORS + (TypeError, ValueError)
_GENERIC = re.compile(r": unable to (read|open|retrieve|seek|scan|process)|with error:?$")


def lib_reason(exc: BaseException) -> str:
    """The telling part of a libyal error. Their text chains every function a failure passed
    through, outermost first ("pymodi_handle_read_buffer_at_offset: unable to read data.
    libmodi_...: invalid ..."): the first link that is more than "unable to read" is the cause."""
    text = " ".join(str(exc).split())
    parts = [p.strip(" .'\"()") for p in re.split(r"\. |(?:OS|IO)Error\(", text)]
    parts = [p for p in parts if p]
    specific = [p for p in parts if not _GENERIC.search(p)]
    return (specific or parts or [type(exc).__name__])[0]


@dataclass
class Link:
    """One layer of a volume's chain: its kind, how the chain text shows it, what it adds to
    the volume's path ("" for nothing), and what it says about itself for the report."""

    kind: str
    label: str
    step: str = ""
    facts: Dict[str, object] = field(default_factory=dict)

    def describe(self) -> dict:
        return {"kind": self.kind, **self.facts}


@dataclass
class Place:
    """Where the explorer is: the chain so far, the volume index it would give, the offset in
    the (virtual) disk of the partition that holds it, and that partition's own label."""

    links: List[Link]
    index: int
    offset: int
    label: str

    def deeper(self, link: Link, index: Optional[int] = None) -> "Place":
        return Place(self.links + [link], self.index if index is None else index, self.offset,
                     self.label)

    def path(self, link: Optional[Link] = None) -> str:
        """The volume path this place has (with `link` after it): the key an Access keeps
        what unlocked an encrypted layer under."""
        links = self.links + ([link] if link else [])
        return "/".join(l.step or l.kind for l in links)


class Layer:
    """A kind of layer. `open(explorer, source, head, place)` returns False when the bytes
    are not this layer's (`head`: the first bytes of `source`); else it opens the layer and
    hands what it holds back to the explorer (`explorer.explore` a child source,
    `explorer.add` a volume with its file system, or a volume that cannot be read), and
    returns True."""

    name = ""
    library = ""

    def open(self, explorer, source: Source, head: bytes, place: Place) -> bool:
        raise NotImplementedError
