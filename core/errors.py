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


class DecoderCrashError(AudioError):
    """The decoder process died on this file (an FFmpeg crash); the other files go on."""


class SampleRateError(AudioError):
    """The header states a sample rate no recording has (a wrong header, or not a recording)."""


class TooManyChannelsError(AudioError):
    """The file has more channels than the resampler takes (no recording has that many)."""


class TooLongError(AudioError):
    """The audio is longer than this version scores in one piece."""


class ModelLoadError(EmoScopeError):
    """The model could not be found, downloaded or loaded intact."""


class ModelDownloadError(ModelLoadError):
    """The hub could not be reached. What to do next depends on where the user is."""

    def __init__(self, repo: str, hub_name: str, reason: str):
        self.repo, self.hub_name, self.reason = repo, hub_name, reason
        super().__init__(
            f"could not download {repo} from {hub_name} ({reason}). Check the network, try the "
            "other hub (--hub), or pass a local model directory with --model DIR."
        )

    def for_web(self, models_setting: str) -> str:
        """The same failure told to someone on the web page, who has no command line."""
        return (
            f"Could not download {self.repo} from {self.hub_name} ({self.reason}). Choose "
            "“local model directory” to use a model already on this server, or ask whoever runs "
            f"the server to place the model in its models folder ({models_setting}) or to "
            "download it once there."
        )


class InputError(EmoScopeError):
    """A path, archive, manifest or option given by the user is unusable."""


class StoreBusyError(EmoScopeError):
    """Another process holds the database file; retry later."""


class StoreError(EmoScopeError):
    """The database file is unusable (wrong format, newer schema)."""


class PermissionDenied(EmoScopeError):
    """The signed-in user's role does not allow this action (checked on the server)."""


class NotAllowedError(PermissionDenied):
    """The signed-in account is not on this deployment's allowlist."""


class AccessConfigError(EmoScopeError):
    """The sign-in settings ([emoscope.access] in secrets.toml) are unusable."""


class NotSignedInError(PermissionDenied):
    """Sign-in is configured and this visitor has not signed in."""


class Cancelled(EmoScopeError):
    """The person who started a long piece of work stopped it before it finished."""
