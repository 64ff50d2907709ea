"""Security headers on every answer of every service (added by shared/edge.py):
`X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`;
a Content-Security-Policy: on HTML (FastAPI's /docs and /redoc) one that lets those pages
load their scripts from cdn.jsdelivr.net, run their inline start-up script and sign in at
the token issuer, and on everything else one that allows nothing; and `Cache-Control:
no-store` on an answer to a signed-in request (it may carry personal data) that sets none."""

from __future__ import annotations

from urllib.parse import urlsplit

COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
          (b"x-frame-options", b"DENY")]
NOTHING = b"default-src 'none'; frame-ancestors 'none'"
CDN = "https://cdn.jsdelivr.net"


def docs_policy(token_url: str) -> bytes:
    """What /docs (Swagger UI) and /redoc need: their bundles and styles from the CDN, their
    inline start-up script, Redoc's fonts and web worker, and fetches of this service's
    OpenAPI and of the issuer's token endpoint (signing in from /docs)."""
    issuer = urlsplit(token_url)
    origin = f"{issuer.scheme}://{issuer.netloc}" if issuer.netloc else ""
    return "; ".join([
        "default-src 'none'",
        f"script-src 'self' 'unsafe-inline' {CDN}",
        f"style-src 'self' 'unsafe-inline' {CDN} https://fonts.googleapis.com",
        "font-src https://fonts.gstatic.com",
        "img-src 'self' data: https:",
        f"connect-src 'self' {origin}".rstrip(),
        "worker-src blob:",
        "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
    ]).encode()


class SecurityHeaders:
    """What to add to an answer's headers (shared/edge.py adds them as the answer starts)."""

    def __init__(self, token_url: str = "") -> None:
        self.html_policy = docs_policy(token_url)

    def added(self, headers: list[tuple[bytes, bytes]], signed_in: bool) -> list:
        names = set()
        html = False
        for name, value in headers:
            name = name.lower()
            names.add(name)
            html = html or (name == b"content-type" and value.startswith(b"text/html"))
        policy = (b"content-security-policy", self.html_policy if html else NOTHING)
        cache = [(b"cache-control", b"no-store")] if signed_in else []
        return headers + [(name, value) for name, value in [*COMMON, policy, *cache]
                          if name not in names]  # an answer's own header stands
