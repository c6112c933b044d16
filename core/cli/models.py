"""Which model's results a command reads, when a database holds several."""

from __future__ import annotations

from core.errors import InputError
from core.store.models import list_models


def pick_model_key(store, wanted: str | None) -> str:
    """The model whose results to read: a key or id given by the user, else the team's default
    ($EMOSCOPE_MODEL, else the model holding the most results: core.model.team)."""
    models = list_models(store)
    if models.empty:
        raise InputError(f"{store.path} holds no results yet; run `python -m core ingest` first.")
    if not wanted:
        from core.model.team import team_default

        return team_default(models)
    match = models[(models.model_key == wanted) | (models.model_id == wanted)]
    if match.empty:
        raise InputError(f"no results of model {wanted!r}; stored: {', '.join(models.model_key)}.")
    return str(match.model_key.iloc[0])
