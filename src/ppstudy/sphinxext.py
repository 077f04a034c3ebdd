"""Sphinx extension used by the book: serve MathJax 3 from the built site so math renders offline.

The MathJax files come from the ``django-static-mathjax`` wheel (MathJax 3.2.2, es5 build; the
package has no dependency on Django). They are copied to ``_static/mathjax/`` after a successful build and
``mathjax_path`` points there instead of a CDN.
"""

from __future__ import annotations

from pathlib import Path

MATHJAX_ENTRY = "mathjax/tex-chtml.js"


def mathjax_source() -> Path:
    import mathjax  # the django-static-mathjax distribution

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (src / "tex-chtml.js").is_file():  # pragma: no cover - broken install
        raise FileNotFoundError(f"MathJax es5 build not found under {src}")
    return src


def _config_inited(app, config) -> None:
    config.mathjax_path = MATHJAX_ENTRY


def _page_context(app, pagename, templatename, context, doctree) -> None:
    """Set the theme's default colour mode and drop sphinx-thebe's scripts: the book has no live kernels, and jupyter-book registers thebe's
    configuration twice, which the browser reports as a redeclared constant."""
    if not context.get("default_mode"):
        context["default_mode"] = "light"  # else pydata-sphinx-theme logs "invalid theme mode" on a first visit
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [s for s in scripts
                                   if "thebe" not in (str(s) + str(getattr(s, "attributes", {}).get("body", "")))]


def _copy_mathjax(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    from sphinx.util.fileutil import copy_asset

    copy_asset(str(mathjax_source()), str(Path(app.outdir) / "_static" / "mathjax"))


def setup(app):
    app.connect("config-inited", _config_inited, priority=900)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
