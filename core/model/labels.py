"""The nine emotion2vec+ classes, in tokens.txt order, with their display attributes."""

from __future__ import annotations

LOW_CONFIDENCE = 0.5  # a top label below this confidence is counted as low confidence

# Index i is the model's output i: tokens.txt order of every emotion2vec+ checkpoint.
EMOTIONS: tuple[str, ...] = (
    "angry",
    "disgusted",
    "fearful",
    "happy",
    "neutral",
    "other",
    "sad",
    "surprised",
    "unknown",
)

# tokens.txt lines of the released checkpoints ("中文/english"); written by make-test-model too.
TOKENS: tuple[str, ...] = (
    "生气/angry",
    "厌恶/disgusted",
    "恐惧/fearful",
    "开心/happy",
    "中立/neutral",
    "其他/other",
    "难过/sad",
    "吃惊/surprised",
    "<unk>",
)

EMOJI: dict[str, str] = {
    "angry": "😠",
    "disgusted": "🤢",
    "fearful": "😨",
    "happy": "😊",
    "neutral": "😐",
    "other": "🤔",
    "sad": "😢",
    "surprised": "😮",
    "unknown": "❔",
}

COLORS: dict[str, str] = {
    "angry": "#d62728",
    "disgusted": "#8c564b",
    "fearful": "#9467bd",
    "happy": "#f2b701",
    "neutral": "#7f7f7f",
    "other": "#17becf",
    "sad": "#1f77b4",
    "surprised": "#ff7f0e",
    "unknown": "#c7c7c7",
}

SCORE_COLUMNS: tuple[str, ...] = tuple(f"score_{e}" for e in EMOTIONS)

UNTRAINED_LABEL = "untrained test model"


def english_label(token: str) -> str:
    """Map a tokens.txt entry ('生气/angry', '<unk>', 'angry') to its English emotion name."""
    if token.strip() == "<unk>":
        return "unknown"
    return token.split("/")[-1].strip().lower()
