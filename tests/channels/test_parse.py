"""parse.POLICY is `policy.default` with each header value parsed once: what it reads must be
exactly what `policy.default` reads."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from customers.channels import parse
from tests.channels.mail import bounce, make_email


def test_headers_read_through_the_policy_are_those_of_policy_default():
    raws = [
        make_email(),
        make_email(sender="=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@example.com>", subject="Ä ö"),
        make_email(text="Plain", html="<p>Rich</p>", attachments=[("a.pdf", b"%PDF", "a/pdf")]),
        make_email(text="Latin", headers={"Content-Language": "de"}).replace(
            b'charset="utf-8"', b"charset*=iso-8859-1''%E9"
        ),
        bounce(failed="gone@example.com"),
    ]
    for raw in raws:
        for _ in range(2):  # the second time from the cache
            ours = BytesParser(policy=parse.POLICY).parsebytes(raw)
            theirs = BytesParser(policy=policy.default).parsebytes(raw)
            for mine, reference in zip(ours.walk(), theirs.walk(), strict=True):
                for name in reference:
                    assert type(mine[name]).__mro__[1] is type(reference[name]).__mro__[1]
                    assert str(mine[name]) == str(reference[name])
                    assert mine[name].defects == reference[name].defects
                assert mine.get_params() == reference.get_params()
                assert mine.get_content_charset() == reference.get_content_charset()


def test_emails_with_the_same_headers_and_other_bodies_are_read_apart():
    first = parse.parse_email(make_email(text="The parcel arrived broken."))
    second = parse.parse_email(make_email(text="Thank you, it works now."))
    assert (first.new_text, second.new_text) == (
        "The parcel arrived broken.",
        "Thank you, it works now.",
    )
