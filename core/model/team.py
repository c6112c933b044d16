"""The team's default model: which model's results a page or command shows unless asked (#30).

The deployment's `EMOSCOPE_MODEL` (a model key or id) when it has results here, else the model
holding the most scored tracks; never the most recently used one, so that one teammate's upload
under another model does not change what everybody sees.
"""

from __future__ import annotations

import os

SETTING = "EMOSCOPE_MODEL"


def team_default(models, setting: str | None = None) -> str | None:
    """The default model key among `models` (core.store.models.list_models(): model_key, model_id, n_tracks,
    first_used); `setting` defaults to $EMOSCOPE_MODEL. None when there are no models."""
    if models.empty:
        return None
    wanted = os.environ.get(SETTING) if setting is None else setting
    if wanted:
        match = models[(models.model_key == wanted) | (models.model_id == wanted)]
        if not match.empty:
            return str(match.model_key.iloc[0])
    ranked = models.sort_values(["n_tracks", "first_used", "model_key"],
                                ascending=[False, True, True], kind="stable")  # fmt: skip
    return str(ranked.model_key.iloc[0])


def why(models, key: str, setting: str | None = None) -> str:
    """Why `key` is the default, in words for a page or a command."""
    wanted = os.environ.get(SETTING) if setting is None else setting
    if wanted and key in (wanted, *models[models.model_id == wanted].model_key):
        return f"the team's default ({SETTING})"
    return "the model holding the most results"
