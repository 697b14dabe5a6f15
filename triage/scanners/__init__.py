"""Judge file entries against the loaded hash sets: exact digests first, perceptual after."""

from .judge import Judge, Verdict

__all__ = ["Judge", "Verdict"]
