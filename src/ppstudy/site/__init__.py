"""The book's site: staging the pages from the runs, the Jupyter Book build, the checks of the built pages,
the build-time settings and the Sphinx extension. Only the command line calls it (``ppstudy book``).

:mod:`.stage` copies the static pages and the executed chapters (with their provenance, tables rendered
afresh and the intro's dashboard) into ``_build/stage``; :mod:`.build` runs Jupyter Book there and checks
the result with :mod:`.check`; :mod:`.config` writes the settings that depend on where the book is built;
:mod:`.sphinxext` is the Sphinx extension the book's ``_config.yml`` loads.
"""
