"""Typed, user-facing errors. Every message is written for the person who caused it."""

from __future__ import annotations


class EmoScopeError(Exception):
    """Base of every error a user can cause and fix; its message is shown as is."""


class AudioError(EmoScopeError):
    """The file could not be used as audio."""


class NotAudioError(AudioError):
    """The file holds no audio stream (text, image, unknown bytes)."""


class CorruptAudioError(AudioError):
    """The file is audio but cannot be decoded to the end (truncated, damaged, NaN samples)."""


class EmptyAudioError(AudioError):
    """The file decodes to zero samples."""


class TooShortError(AudioError):
    """The audio is shorter than the minimum the model can score."""


class TooLongError(AudioError):
    """The audio is longer than this version scores in one piece."""


class ModelLoadError(EmoScopeError):
    """The model could not be found, downloaded or loaded intact."""


class InputError(EmoScopeError):
    """A path, archive, manifest or option given by the user is unusable."""


class StoreBusyError(EmoScopeError):
    """Another process holds the database file; retry later."""


class StoreError(EmoScopeError):
    """The database file is unusable (wrong format, newer schema)."""
