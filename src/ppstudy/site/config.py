"""Build-time settings of the book that depend on where it is built: repository link and launch buttons.

The repository URL is never written in the checkout's ``_config.yml``: it comes from the environment of the
deploy job. ``PPSTUDY_REPOSITORY_URL`` wins; otherwise GitHub Actions' ``GITHUB_SERVER_URL`` and
``GITHUB_REPOSITORY`` are joined. Without either, the book has no repository or launch buttons.
``PPSTUDY_JUPYTERHUB_URL`` (a class's or an institution's hub, e.g. ``https://hub.example.edu``) adds a
JupyterHub button that clones the repository into the reader's hub account with nbgitpuller and opens the
chapter there (any git host).

``configure_stage`` is called by :func:`ppstudy.site.stage.stage_book` on the staged copy of ``_config.yml``; it also copies
each chapter's MyST source next to the stage so that the built page offers it as a ``.md`` download.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ppstudy import InputError
from ppstudy.project import chapters as _chapters
from ppstudy.project.paths import notebook, remove

#: Folder of the stage (and of ``_sources/`` in the HTML) that holds the chapters' MyST sources.
MD_SOURCES = "_ppstudy_md"
BINDER_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"
PROVIDERS = ("github", "gitlab", "bitbucket")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~-]+){2,}$")
_REF = re.compile(r"^[A-Za-z0-9._/-]+$")
_HUB = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~-]+)*/?$")


def jupyterhub_url(env: Mapping[str, str] | None = None) -> str | None:
    """The JupyterHub the launch button opens (``PPSTUDY_JUPYTERHUB_URL``), without a trailing ``/``; None
    when unset. The hub needs nbgitpuller installed (the button's link is its ``git-pull`` URL)."""
    env = os.environ if env is None else env
    url = (env.get("PPSTUDY_JUPYTERHUB_URL") or "").strip()
    if not url:
        return None
    if not _HUB.match(url):
        raise InputError(f"PPSTUDY_JUPYTERHUB_URL {url!r} is not of the form https://host[/path]")
    return url.rstrip("/")


def repository_url(env: Mapping[str, str] | None = None) -> str | None:
    """The repository's web URL from the environment, or None when it is not known.

    ``PPSTUDY_REPOSITORY_URL`` (e.g. ``https://github.com/org/repo``) wins over GitHub Actions'
    ``GITHUB_SERVER_URL`` + ``GITHUB_REPOSITORY``. A trailing ``.git`` or ``/`` is dropped.
    """
    env = os.environ if env is None else env
    url = (env.get("PPSTUDY_REPOSITORY_URL") or "").strip()
    if not url:
        server = (env.get("GITHUB_SERVER_URL") or "").strip().rstrip("/")
        repo = (env.get("GITHUB_REPOSITORY") or "").strip().strip("/")
        if not (server and repo):
            return None
        url = f"{server}/{repo}"
    url = url.rstrip("/")
    url = url[:-4] if url.endswith(".git") else url
    if not _URL.match(url):
        raise InputError(f"repository URL {url!r} is not of the form https://host/owner/repo")
    if provider(url) is None:
        raise InputError(f"repository URL {url!r}: the book theme knows only {', '.join(PROVIDERS)} hosts")
    return url


def provider(url: str) -> str | None:
    host = url.split("/")[2].lower()
    return next((p for p in PROVIDERS if p in host), None)


def repository_branch(env: Mapping[str, str] | None = None) -> str:
    """The branch the launch buttons open: ``PPSTUDY_REPOSITORY_BRANCH``, else ``GITHUB_REF_NAME``, else main."""
    env = os.environ if env is None else env
    ref = (env.get("PPSTUDY_REPOSITORY_BRANCH") or env.get("GITHUB_REF_NAME") or "main").strip()
    if not _REF.match(ref):
        raise InputError(f"branch name {ref!r} has characters a URL cannot carry")
    return ref


def book_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``_config.yml`` keys to set for this environment (empty when no repository URL is known).

    Binder (GitHub only) opens the chapter's MyST source ``book/<chapter>.md`` with Jupytext, which the
    repository's ``environment.yml`` installs. Colab can only open ``.ipynb`` files held in the repository:
    its button appears only when ``PPSTUDY_NOTEBOOKS_REF`` names a branch or tag of the same repository
    whose ``notebooks/<chapter>.ipynb`` were written by ``ppstudy notebooks --out notebooks/``.
    """
    env = os.environ if env is None else env
    url = repository_url(env)
    if url is None:
        return {}
    branch = repository_branch(env)
    out: dict[str, Any] = {
        "repository": {"url": url, "branch": branch, "path_to_book": ""},
        "html": {"use_repository_button": True},
        "sphinx": {"config": {"ppstudy_repository": {"url": url, "branch": branch}}},
    }
    hub = jupyterhub_url(env)
    if hub is not None:
        out["launch_buttons"] = {"jupyterhub_url": hub}
    if provider(url) == "github":
        out.setdefault("launch_buttons", {})["binderhub_url"] = BINDER_URL
        nb_ref = (env.get("PPSTUDY_NOTEBOOKS_REF") or "").strip()
        if nb_ref:
            if not _REF.match(nb_ref):
                raise InputError(f"PPSTUDY_NOTEBOOKS_REF {nb_ref!r} has characters a URL cannot carry")
            owner_repo = "/".join(url.split("/")[3:5])
            out["sphinx"]["config"]["ppstudy_repository"]["colab"] = (
                f"{COLAB_URL}/github/{owner_repo}/blob/{nb_ref}/notebooks"
            )
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = dict(v) if isinstance(v, Mapping) else v
    return base


def configure_stage(
    stage: Path, root: Path, chapters: list[str] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Write this environment's settings into ``stage/_config.yml`` and stage the chapters' MyST sources.

    Call it after ``_config.yml`` and the notebooks are staged. Returns the settings it added.
    """
    import yaml

    stage, root = Path(stage), Path(root)
    cfg_path = stage / "_config.yml"
    if not cfg_path.is_file():
        raise InputError(f"{cfg_path} does not exist: stage the book first")
    cfg = yaml.safe_load(cfg_path.read_text()) or {}
    settings = book_settings(env)
    md_dir = stage / MD_SOURCES
    remove(md_dir, stage)  # a link there is unlinked, never followed
    md_dir.mkdir()
    for name in chapters if chapters is not None else list(_chapters.CHAPTERS):
        src = notebook(_chapters.get(name), root)
        if not src.is_file():
            raise InputError(f"chapter {name}: {src} does not exist")
        shutil.copy2(src, md_dir / f"{name}.md")
    extra = {
        "exclude_patterns": sorted(set(cfg.get("exclude_patterns") or []) | {MD_SOURCES}),
        "sphinx": {"config": {"ppstudy_md_sources": MD_SOURCES}},
    }
    _merge(cfg, _merge(extra, settings))
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    return settings
