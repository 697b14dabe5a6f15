"""Signal registry. Importing this package registers every built-in signal."""

from .base import SIGNALS, Signal, get, of_kind, parse_threshold, register
from . import exact  # noqa: F401  (registers md5, sha1, sha256, photodna, edges,
#                             edges-xxh3)
from . import perceptual  # noqa: F401  (registers pdq and the pHash family)
from . import vpdq  # noqa: F401  (registers vpdq, frame PDQ of videos)
from . import blocks  # noqa: F401  (registers block)

__all__ = ["SIGNALS", "Signal", "get", "of_kind", "parse_threshold", "register"]
