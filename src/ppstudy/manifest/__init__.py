"""The run's manifest, ``results.json``: what a chapter run recorded, above :mod:`ppstudy.project`.

:mod:`.store` reads and writes it (atomically, with its digest when published) and the arrays beside it,
:mod:`.environment` captures what a run records about where it ran (versions, commit, device, the
runner's invocation), :mod:`.status` turns a recorded check into its status. Rendering a manifest is
:mod:`ppstudy.render`'s; recording one is :class:`ppstudy.kernel.run.Run`'s.
"""
