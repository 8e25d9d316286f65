import pytest

from training.text import normalize_tweet


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@John_Doe great game", "@user great game"),
        ("@JOHN", "@user"),
        ("thanks @user123!", "thanks @user!"),
        ("@a,@b and @c_d", "@user,@user and @user"),
        ("see https://t.co/x.", "see http."),
        ("read http://a.b/c?d=1&e=2 now", "read http now"),
        ("www.example.com/page!", "http!"),
        ("HTTPS://T.CO/ABC", "http"),
        ("Mexico &amp; Canada", "Mexico & Canada"),
        ("&lt;3 &quot;hi&quot;", '<3 "hi"'),
        ("love it 😍🔥", "love it 😍🔥"),
        ("  spaced \n\t out  ", "spaced out"),
        ("", ""),
        ("   ", ""),
        ("mail me at john@example.com", "mail me at john@example.com"),
        ("RT @x: hi", "RT @user: hi"),
    ],
)
def test_normalize_tweet(raw, expected):
    assert normalize_tweet(raw) == expected


def test_normalize_is_idempotent():
    text = "@Bob look https://t.co/x &amp; more  spaces"
    once = normalize_tweet(text)
    assert normalize_tweet(once) == once
