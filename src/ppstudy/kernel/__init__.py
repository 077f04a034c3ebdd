"""What runs inside a chapter's kernel: :func:`.setup.setup` (the notebook's first call) and :class:`.run.Run`,
which records the run into its manifest and displays tables and figures through :mod:`ppstudy.render`."""
