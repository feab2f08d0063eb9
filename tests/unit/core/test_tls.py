"""harness.core.tls: the one certificate order (pip's cert, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
SSL_CERT_FILE, system), and that the dataset download and the doctor/vendor HTTP client use it
against an HTTPS server on 127.0.0.1 whose certificate only our bundle trusts."""
import http.server as httpserver
import os
import shutil
import ssl
import subprocess
import threading
import urllib.error

import pytest

from helpers import HANG_S
from harness.images import data, reachable
from harness.core import tls

BODY = b"served over TLS\n" * 10


def env_with(tmp_path, conf_cert=None, **variables):
    """An environment whose pip config is ours: `cert = conf_cert` (it is read last, so it
    wins), or no pip config file at all."""
    conf = os.devnull
    if conf_cert:
        conf = str(tmp_path / "pip.conf")
        with open(conf, "w") as f:
            f.write("[global]\ncert = %s\n" % conf_cert)
    env = {"PIP_CONFIG_FILE": conf, "XDG_CONFIG_DIRS": str(tmp_path / "none"),
           "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "none")}
    env.update(variables)
    return env


def bundles(tmp_path, *names):
    out = []
    for name in names:
        path = tmp_path / name
        path.write_text("not parsed by ca_bundle\n")
        out.append(str(path))
    return out


def test_order_pip_cert_first(tmp_path):
    conf, pip_env, req, curl, sslf = bundles(tmp_path, "conf.pem", "pipenv.pem", "req.pem",
                                             "curl.pem", "ssl.pem")
    env = env_with(tmp_path, conf, REQUESTS_CA_BUNDLE=req, CURL_CA_BUNDLE=curl, SSL_CERT_FILE=sslf)
    assert tls.ca_bundle(env) == (conf, "pip cert setting")
    env["PIP_CERT"] = pip_env  # pip: the environment beats the config file
    assert tls.ca_bundle(env) == (pip_env, "pip cert setting")
    del env["PIP_CERT"]
    env = env_with(tmp_path, None, REQUESTS_CA_BUNDLE=req, CURL_CA_BUNDLE=curl, SSL_CERT_FILE=sslf)
    assert tls.ca_bundle(env) == (req, "REQUESTS_CA_BUNDLE")
    del env["REQUESTS_CA_BUNDLE"]
    assert tls.ca_bundle(env) == (curl, "CURL_CA_BUNDLE")
    del env["CURL_CA_BUNDLE"]
    assert tls.ca_bundle(env) == (sslf, "SSL_CERT_FILE")


def test_settings_naming_missing_files_are_passed_over(tmp_path):
    (sslf,) = bundles(tmp_path, "ssl.pem")
    missing = str(tmp_path / "gone.pem")
    env = env_with(tmp_path, missing, PIP_CERT=missing, REQUESTS_CA_BUNDLE=missing,
                   CURL_CA_BUNDLE=missing, SSL_CERT_FILE=sslf)
    assert tls.ca_bundle(env) == (sslf, "SSL_CERT_FILE")
    del env["SSL_CERT_FILE"]
    path, where = tls.ca_bundle(env)
    assert (path, where) in ((None, "system defaults"), (tls.SYSTEM_BUNDLE, "system bundle"))


def test_context_trusts_only_the_chosen_bundle(tmp_path):
    if not os.path.isfile(tls.SYSTEM_BUNDLE):
        pytest.skip("no %s to take a certificate from" % tls.SYSTEM_BUNDLE)
    with open(tls.SYSTEM_BUNDLE) as f:
        text = f.read()
    end = "-----END CERTIFICATE-----"
    one = tmp_path / "one.pem"
    one.write_text(text[:text.index(end) + len(end)] + "\n")
    ctx = tls.ssl_context(env_with(tmp_path, str(one)))
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert len(ctx.get_ca_certs()) == 1


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """(https URL of /file, the server's self-signed certificate)."""
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)

    class Handler(httpserver.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

    srv = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    srv.socket = server_ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "https://127.0.0.1:%d/file" % srv.server_port, cert
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def other_bundle(tmp_path):
    """A valid bundle that does not hold the test server's certificate."""
    if os.path.isfile(tls.SYSTEM_BUNDLE):
        return tls.SYSTEM_BUNDLE
    ssl_env = ssl.get_default_verify_paths().cafile
    if not ssl_env:
        pytest.skip("no system CA bundle file")
    return ssl_env


def test_dataset_download_trusts_pips_cert_first(https_server, other_bundle, tmp_path,
                                                 monkeypatch):
    url, cert = https_server
    for key, value in env_with(tmp_path, None, PIP_CERT=cert, REQUESTS_CA_BUNDLE=other_bundle,
                               SSL_CERT_FILE=other_bundle).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    out = tmp_path / "file.part"
    assert data.download(url, str(out), "sha256", echo=lambda *a, **k: None)
    assert out.read_bytes() == BODY
    # without pip's cert the next setting is used, and it does not trust this server
    monkeypatch.delenv("PIP_CERT")
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        data.download(url, str(out), "sha256", echo=lambda *a, **k: None)


def test_doctor_and_vendor_http_client_uses_the_same_order(https_server, other_bundle, tmp_path):
    url, cert = https_server
    env = env_with(tmp_path, cert, REQUESTS_CA_BUNDLE=other_bundle)
    http = reachable.Http(timeout=HANG_S, context=tls.ssl_context(env))
    assert http.read(url)[0] == BODY
    env = env_with(tmp_path, None, REQUESTS_CA_BUNDLE=other_bundle)
    http = reachable.Http(timeout=HANG_S, context=tls.ssl_context(env))
    with pytest.raises(reachable.Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
        http.read(url)
