"""Reaching what an image's build fetches, for doctor and vendor: an HTTP client that tells "the
server answered: it is gone" (Gone) from "no useful answer" (Unreachable), the statuses the
checks end in (what each means: harness/images/doctor.py), and the check of a URL artifact (reachable,
and its bytes hash to the pinned sha256). HTTPS trusts what harness.core.tls says."""
import hashlib
import urllib.error
import urllib.parse
import urllib.request

from ..core import tls

OK, ROTTED, UNREACHABLE, LOCAL_ONLY, UNVERIFIED, TO_BUILD = (
    "ok", "rotted", "unreachable", "local only", "unverified", "to build")
FAILING = (ROTTED, UNREACHABLE)
USER_AGENT = "dlbench-doctor/1"


class Unreachable(Exception):
    """The host did not answer usefully (DNS, connection, timeout, TLS, 5xx)."""


class Gone(Exception):
    """The server answered: not there (404/410)."""


class Http(object):
    """urllib with a timeout, the harness's SSL context and one User-Agent; open() raises Gone
    for 404/410, Unreachable for no answer or another error, and lets 401/403 through (as
    urllib.error.HTTPError) for the caller to authenticate."""

    def __init__(self, timeout=20, context=None):
        self.timeout = timeout
        self.context = context if context is not None else tls.ssl_context()

    def open(self, url, method="GET", headers=None):
        req = urllib.request.Request(url, method=method, headers=dict(
            {"User-Agent": USER_AGENT}, **(headers or {})))
        try:
            if url.startswith("https:"):
                return urllib.request.urlopen(req, timeout=self.timeout, context=self.context)
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                raise Gone("%s answers %d" % (host_of(url), e.code))
            if e.code in (401, 403):
                raise
            raise Unreachable("%s answers %d %s" % (host_of(url), e.code, e.reason))
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise Unreachable("%s: %s" % (host_of(url), reason))

    def read(self, url, headers=None, limit=64 << 20):
        with self.open(url, headers=headers) as resp:
            return resp.read(limit), resp.headers.get("Content-Type", "")


def host_of(url):
    """The host[:port] of a URL (the path of a file: URL), for messages."""
    parsed = urllib.parse.urlsplit(url)
    return parsed.netloc or parsed.path


def check_artifact(url, sha256, http):
    """(status, detail): reachable, and its bytes hash to sha256 when one is pinned."""
    if not sha256:
        try:
            with http.open(url, method="HEAD"):
                pass
        except Gone as e:
            return ROTTED, "%s; find a mirror of the file and set this ARG" % e
        except Unreachable as e:
            return UNREACHABLE, str(e)
        except urllib.error.HTTPError as e:
            return UNREACHABLE, "%s answers %d" % (host_of(url), e.code)
        return UNVERIFIED, "reachable, but no sha256 pinned: set the matching _SHA256 ARG"
    digest, size = hashlib.sha256(), 0
    try:
        with http.open(url) as resp:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
    except Gone as e:
        return ROTTED, "%s; restore it from a `dlbench vendor` archive or a mirror " \
            "(the sha256 pin says which bytes)" % e
    except Unreachable as e:
        return UNREACHABLE, str(e)
    except urllib.error.HTTPError as e:
        return UNREACHABLE, "%s answers %d" % (host_of(url), e.code)
    if digest.hexdigest() != sha256.lower():
        return ROTTED, "sha256 %s differs from the pinned %s (%d bytes): the file changed; " \
            "do not build from it" % (digest.hexdigest(), sha256, size)
    return OK, "%d bytes, sha256 matches" % size
