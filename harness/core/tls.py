"""The certificates the host side trusts for HTTPS: one SSL context for every download and check
(dataset fetches, package indexes, registries, URL artifacts).

The CA bundle is the first of these that names an existing file:

  1. pip's `cert` setting: PIP_CERT, else `cert` in the pip config files (harness.core.pipconf reads
     them the way pip does). A TLS-intercepting proxy's CA bundle is named here, and it is the
     bundle the build context copies into images (harness.images.buildcontext), so the host's checks and
     the builds trust the same certificates.
  2. REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE: what pip (through requests) trusts when no `cert`
     is set.
  3. SSL_CERT_FILE: OpenSSL's own variable.
  4. Otherwise the system's certificates: OpenSSL's default locations (SSL_CERT_DIR, the
     distribution's store); when this Python's OpenSSL has no default file or folder on this
     machine (a Python built for another layout), the Debian/Ubuntu bundle
     /etc/ssl/certs/ca-certificates.crt.

Only the chosen bundle is trusted (as pip does with `cert`): it is not added to the system's."""
import os
import ssl

from . import pipconf

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def ca_bundle(environ=None):
    """(path, where it was named) of the CA bundle to trust, or (None, "system defaults")."""
    env = os.environ if environ is None else environ
    candidates = [("pip cert setting", pipconf.read(env).cert)]
    candidates += [(var, env.get(var)) for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                                   "SSL_CERT_FILE")]
    for where, path in candidates:
        if path and os.path.isfile(path):
            return path, where
    defaults = ssl.get_default_verify_paths()  # cafile/capath: None where they do not exist
    if not (defaults.cafile or defaults.capath) and os.path.isfile(SYSTEM_BUNDLE):
        return SYSTEM_BUNDLE, "system bundle"
    return None, "system defaults"


def ssl_context(environ=None):
    """A verifying client context that trusts ca_bundle(environ)."""
    cafile, _ = ca_bundle(environ)
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    return ssl.create_default_context()
