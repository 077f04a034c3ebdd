"""Running chapters and keeping their runs: what only the command line (and :mod:`ppstudy.site`) calls.

:mod:`.params` resolves a run's parameters (the notebook's defaults, the profile, the overrides),
:mod:`.execute` executes a chapter with papermill into its run directory, :mod:`.publish` copies a finished
run into ``results/``, :mod:`.figures` redraws a run's figures and :mod:`.codechange` tells whether the code
a published run's numbers came from changed since its commit.
"""
