import math
from collections import Counter

from surveys import selectors, tokens
from surveys.models import Invitation


def test_tokens_carry_256_random_bits():
    raw, _ = tokens.new_token()
    alphabet = 64  # urlsafe base64
    assert len(raw) == 43
    assert len(raw) * math.log2(alphabet) >= 256


def test_tokens_do_not_repeat_and_use_the_whole_alphabet():
    raws = [tokens.new_token()[0] for _ in range(2000)]
    assert len(set(raws)) == len(raws)
    counts = Counter("".join(raws))
    assert len(counts) == 64
    # Uniform: no character far from its expected share (2000*43/64 ≈ 1344).
    expected = 2000 * 43 / 64
    assert all(abs(n - expected) < expected * 0.25 for c, n in counts.items() if c not in "AQgw")


def test_only_the_sha256_of_the_token_is_stored(invite):
    invitation, raw = invite()
    invitation.refresh_from_db()
    assert invitation.token_hash == tokens.hash_token(raw)
    assert len(invitation.token_hash) == 64
    stored = " ".join(
        str(v) for v in Invitation.objects.filter(pk=invitation.pk).values().get().values()
    )
    assert raw not in stored


def test_the_raw_token_finds_its_invitation_and_the_hash_does_not(invite):
    invitation, raw = invite()
    assert selectors.invitation_for_token(raw) == invitation
    assert selectors.invitation_for_token(invitation.token_hash) is None


def test_malformed_tokens_are_rejected_before_the_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.invitation_for_token("short") is None
        assert selectors.invitation_for_token("x" * 5000) is None
        assert selectors.invitation_for_token("a" * 42 + "!") is None
