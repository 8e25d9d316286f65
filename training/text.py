"""The one text normalisation, applied identically in training and serving.

TweetEval's validation/test text has mentions anonymised to ``@user`` and links to ``http``,
while the raw training tweets do not: normalising both the same way keeps train and serve aligned.
"""

import html
import re

# A mention starts at a word boundary (so e-mail addresses stay as they are).
_MENTION = re.compile(r"(?<![\w@])@\w+")
# A link runs to the next whitespace, minus trailing sentence punctuation ("see https://t.co/x.").
_LINK = re.compile(r"(?:https?://|www\.)\S+?(?=[.,!?;:)\]\"']*(?:\s|$))", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def normalize_tweet(text: str) -> str:
    """Unescape HTML entities, mask mentions and links, collapse whitespace."""
    text = html.unescape(text)
    text = _LINK.sub("http", text)
    text = _MENTION.sub("@user", text)
    return _WHITESPACE.sub(" ", text).strip()
