"""bot.signature.valid_signature decides as Twilio's RequestValidator.validate on every input:
URLs with and without ports, query strings, repeated and empty params, unicode, forged values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bot.signature import valid_signature

TOKEN = "12345abcdef"


def twilio_says(url: str, params: dict[str, str], signature: str, token: str = TOKEN) -> bool:
    return bool(RequestValidator(token).validate(url, dict(params), signature))


def sig(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


FORM = {"MessageSid": "SM" + "a" * 32, "From": "whatsapp:+9779812345678", "Body": "2 kg chini", "NumMedia": "0"}

CASES = [
    # (the URL we check against, the URL Twilio signed)
    ("https://thok.example/webhooks/twilio/whatsapp", "https://thok.example/webhooks/twilio/whatsapp"),
    ("https://thok.example/webhooks/twilio/whatsapp", "https://thok.example:443/webhooks/twilio/whatsapp"),
    ("https://thok.example:443/webhooks/twilio/whatsapp", "https://thok.example/webhooks/twilio/whatsapp"),
    ("http://thok.example/x", "http://thok.example:80/x"),
    ("http://thok.example:8080/x", "http://thok.example:8080/x"),
    ("http://thok.example:8080/x", "http://thok.example/x"),
    ("https://thok.example/x", "https://thok.example:8443/x"),
    ("https://thok.example/webhooks/twilio/status?ob=42", "https://thok.example/webhooks/twilio/status?ob=42"),
    ("https://thok.example/webhooks/twilio/status?ob=42", "https://thok.example/webhooks/twilio/status?ob=43"),
    ("https://thok.example/webhooks/twilio/status?ob=42", "https://thok.example/webhooks/twilio/status"),
    ("https://thok.example:443/s?ob=1&x=%20y", "https://thok.example/s?ob=1&x=%20y"),
    ("https://thok.example/x?", "https://thok.example/x"),  # urlparse drops the bare '?'
    ("https://thok.example/x#frag", "https://thok.example/x#frag"),
    ("https://thok.example/x", "https://other.example/x"),
    ("https://thok.example/x", "http://thok.example/x"),
    ("https://thok.example:0/x", "https://thok.example:0/x"),
    ("https://thok.example:0/x", "https://thok.example:0:443/x"),
]


@pytest.mark.parametrize(("url", "signed_url"), CASES)
@pytest.mark.parametrize(
    "params",
    [FORM, {}, {"Body": ""}, {"Body": "नमस्ते 🙏", "From": "whatsapp:+9779800000000"}, {"a": "1", "A": "2", "b": "ab"}],
)
def test_same_decision_as_twilio(url: str, signed_url: str, params: dict[str, str]) -> None:
    signature = sig(signed_url, params)
    assert valid_signature(TOKEN, url, params, signature) == twilio_says(url, params, signature)


def test_accepts_twilio_signed_and_refuses_changes() -> None:
    url = "https://thok.example/webhooks/twilio/whatsapp"
    good = sig(url, FORM)
    assert valid_signature(TOKEN, url, FORM, good)
    assert valid_signature(TOKEN, "https://thok.example:443/webhooks/twilio/whatsapp", FORM, good)
    assert not valid_signature(TOKEN, url, {**FORM, "Body": "3 kg chini"}, good)
    assert not valid_signature(TOKEN, url, {**FORM, "Extra": ""}, good)
    assert not valid_signature("another-token", url, FORM, good)
    assert not valid_signature(TOKEN, url, FORM, good[:-1])
    assert not valid_signature(TOKEN, url, FORM, good + " ")
    assert not valid_signature(TOKEN, url, FORM, "")
    # A header Werkzeug decoded as latin-1 may hold non-ASCII: refused, not a TypeError.
    assert not valid_signature(TOKEN, url, FORM, "é" + good[1:])
    assert not twilio_says(url, FORM, "é" + good[1:])


def test_a_pair_split_differently_is_refused_by_both() -> None:
    # The canonical string concatenates names and values: {"ab": "c"} and {"a": "bc"} collide, as
    # they do for Twilio; we must not be stricter or looser than the validator.
    url = "https://thok.example/x"
    signature = sig(url, {"ab": "c"})
    assert valid_signature(TOKEN, url, {"a": "bc"}, signature) == twilio_says(url, {"a": "bc"}, signature)


def test_bad_port_raises_as_twilio_does() -> None:
    url = "https://thok.example:abc/x"
    with pytest.raises(ValueError):
        RequestValidator(TOKEN).validate(url, FORM, "x")
    with pytest.raises(ValueError):
        valid_signature(TOKEN, url, FORM, "x")


_text = st.text(max_size=20)
_urls = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}://{host}{port}/{path}{query}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["thok.example", "127.0.0.1", "bench.thok.test"]),
    st.sampled_from(["", ":80", ":443", ":8080", ":1"]),
    st.text(alphabet="abcxyz/_-.%20", max_size=12),
    st.one_of(
        st.just(""), st.just("?"), st.builds(lambda v: f"?ob={v}", st.text(alphabet="0123456789&=x", max_size=6))
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    url=_urls,
    signed_url=_urls,
    params=st.dictionaries(_text, _text, max_size=6),
    tamper=st.one_of(st.none(), st.tuples(_text, _text)),
    token=st.sampled_from([TOKEN, "other"]),
)
def test_hypothesis_same_decision_as_twilio(
    url: str, signed_url: str, params: dict[str, str], tamper: tuple[str, str] | None, token: str
) -> None:
    signature = sig(signed_url, params)  # signed with TOKEN; checked with `token`
    checked = params if tamper is None else {**params, tamper[0]: tamper[1]}
    try:
        expected = twilio_says(url, checked, signature, token)
    except UnicodeEncodeError:  # a lone surrogate: both refuse to encode it
        with pytest.raises(UnicodeEncodeError):
            valid_signature(token, url, checked, signature)
        return
    assert valid_signature(token, url, checked, signature) == expected


@settings(max_examples=200, deadline=None)
@given(url=_urls, params=st.dictionaries(_text, _text, max_size=4), signature=st.text(max_size=40))
def test_hypothesis_arbitrary_signatures(url: str, params: dict[str, str], signature: str) -> None:
    try:
        expected = twilio_says(url, params, signature)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            valid_signature(TOKEN, url, params, signature)
        return
    assert valid_signature(TOKEN, url, params, signature) == expected
