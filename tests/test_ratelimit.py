"""shared/ratelimit.py alone: per caller, every window of a limit, Retry-After in whole
seconds until the limit lets one more through (a caller may send the whole amount at once,
then one more each period/amount)."""

import pytest

from shared.ratelimit import RateLimited, RateLimits


def test_each_user_and_each_api_key_has_a_window_of_its_own():
    limits = RateLimits("2/minute", "1/minute")
    limits.user("a"), limits.user("a"), limits.user("b")
    with pytest.raises(RateLimited) as refused:
        limits.user("a")
    assert refused.value.status_code == 429 and refused.value.headers["Retry-After"] == "30"
    limits.api_key("a")  # an API key is counted apart from a user of the same name
    with pytest.raises(RateLimited, match="api key"):
        limits.api_key("a")


def test_the_tightest_of_several_windows_refuses_with_its_own_retry_after():
    limits = RateLimits("2/second;100/minute", "1/minute")
    limits.user("a"), limits.user("a")
    with pytest.raises(RateLimited) as refused:
        limits.user("a")
    assert refused.value.retry_after == 1


def test_a_refused_request_is_counted_in_no_window_and_the_rate_refills():
    limits = RateLimits("2/second", "1/minute")
    cells = limits._user[0]
    limits.user("a"), limits.user("a")
    due = dict(cells.due)
    with pytest.raises(RateLimited):
        limits.user("a")
    assert cells.due == due  # the refusal took nothing
    cells.due["a"] -= 0.5  # half a second later: one more is on time
    limits.user("a")
