"""Errors a user can cause: each message names the cause and the fix."""


class CodecFakeError(Exception):
    """Base class of every error that the command lines print as one message, without a traceback."""


class AudioError(CodecFakeError):
    """An audio file or array that cannot be used: unreadable, empty, zero-length or non-finite."""


class UnknownCodecError(CodecFakeError, KeyError):
    """A codec name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class WeightsUnavailableError(CodecFakeError):
    """Official weights that are neither in the Hugging Face cache nor downloadable."""


class CheckpointError(CodecFakeError):
    """A checkpoint file that is not what it should be (wrong keys or shapes, truncated, unsafe)."""


class CodecConfigError(CheckpointError, ValueError, TypeError):
    """A codec config or option that its family cannot build from (an unknown key or option, a value that does
    not fit). Also a ValueError and a TypeError, what the families raise, so callers catching those still do."""


class BackendNotBuiltError(CodecFakeError, NotImplementedError):
    """A registered codec config whose inference module is not written yet."""


class UnknownConditionError(CodecFakeError, KeyError):
    """A channel condition name that the channel registry does not know, or whose encoder the FFmpeg in use lacks."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
