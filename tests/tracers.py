"""Whether the paper's tracer (imagetracerjs and a JavaScript engine) is available to the tests."""

from __future__ import annotations

from ppstudy.ciphers import imagetracer


def tracer_missing() -> str | None:
    """Why imagetracerjs cannot run here, or None when it can."""
    try:
        imagetracer.library_path()
    except imagetracer.TracerUnavailableError as e:
        return str(e)
    return None if imagetracer.available_engines() else "no JavaScript engine"
