"""tweet-mood: fine-tune, track, register and serve a tweet sentiment classifier."""

__version__ = "0.1.0"
