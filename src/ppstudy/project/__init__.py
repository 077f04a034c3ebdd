"""The bottom layer: what the project is and where everything lives.

:mod:`.chapters` names the chapters (data only), :mod:`.paths` holds every path of the project (its root, a
chapter's notebook and profiles, runs, checkpoints, published runs, the build, the data cache) and the
guards that keep writes inside them, :mod:`.profiles` the profile names and YAMLs and :mod:`.notebook` what is
read from a chapter's notebook (its parameters cell, its figure labels). Nothing here imports another layer
of ppstudy.
"""
