"""tagwatch: a tag is a mutable pointer, a digest is the truth."""

import typing

from tagwatch import lazy_exports

# The names below are loaded when first used, so that `import tagwatch` (which every module of
# the package runs first) costs a CLI command nothing it does not use.
if typing.TYPE_CHECKING:
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

if not typing.TYPE_CHECKING:  # to a type checker, the names are the imports above, no others
    __getattr__ = lazy_exports.module_getattr(
        __name__,
        {
            "Change": "tagwatch.core.moves",
            "Digest": "tagwatch.core.digests",
            "ImageRef": "tagwatch.core.references",
            "Observation": "tagwatch.core.moves",
            "Platform": "tagwatch.core.digests",
            "Sighting": "tagwatch.core.moves",
            "TagHistory": "tagwatch.core.moves",
            "TagMove": "tagwatch.core.moves",
            "TagwatchError": "tagwatch.errors",
            "classify": "tagwatch.core.moves",
        },
    )
