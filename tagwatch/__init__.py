"""tagwatch: a tag is a mutable pointer, a digest is the truth."""

from tagwatch.core.digests import Digest, Platform
from tagwatch.core.moves import Change, Observation, Sighting, TagHistory, TagMove, classify
from tagwatch.core.references import ImageRef
from tagwatch.errors import TagwatchError

__version__ = "0.1.0"

__all__ = [
    "Change",
    "Digest",
    "ImageRef",
    "Observation",
    "Platform",
    "Sighting",
    "TagHistory",
    "TagMove",
    "TagwatchError",
    "__version__",
    "classify",
]
