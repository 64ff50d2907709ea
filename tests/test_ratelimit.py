"""shared/ratelimit.py alone: per caller, every window of a limit, Retry-After in whole
seconds until the window lets one more through."""

import pytest

from shared.ratelimit import RateLimited, RateLimits


def test_each_user_and_each_api_key_has_a_window_of_its_own():
    limits = RateLimits("2/minute", "1/minute")
    limits.user("a"), limits.user("a"), limits.user("b")
    with pytest.raises(RateLimited) as refused:
        limits.user("a")
    assert refused.value.status_code == 429 and refused.value.headers["Retry-After"] == "60"
    limits.api_key("a")  # an API key is counted apart from a user of the same name
    with pytest.raises(RateLimited, match="api key"):
        limits.api_key("a")


def test_the_tightest_of_several_windows_refuses_with_its_own_retry_after():
    limits = RateLimits("2/second;100/minute", "1/minute")
    limits.user("a"), limits.user("a")
    with pytest.raises(RateLimited) as refused:
        limits.user("a")
    assert refused.value.retry_after == 1
