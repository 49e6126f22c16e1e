"""The download policy on every request the kit makes (mmsent.data.url_policy): the hub client's own
redirects are checked like the photo store's, and the address a connection actually reached is checked
before any body is read (DNS rebinding). Every server is one the test starts on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mmsent.cli import main as cli
from mmsent.data import url_policy
from mmsent.data.photo_store import REFUSED, PhotoStore
from mmsent.errors import CheckpointError
from mmsent.hub.source import resolve_model_folder

PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class Redirector:
    """A server on 127.0.0.1 that answers every request with a 302 to `location`, or 200 "ok" when it is
    None; `requests` counts the paths asked."""

    def __init__(self, location: str | None) -> None:
        self.requests: Counter[str] = Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests[self.path] += 1
                if location is None:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    return
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> Redirector:
        return self

    def __exit__(self, *_) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket of this process connects to, in order (nothing is blocked)."""
    seen: list[str] = []
    connect = socket.socket.connect

    def recording(self, address):
        seen.append(str(address[0]))
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    for name in [*PROXIES, url_policy.ALLOW_PRIVATE_ENV]:
        monkeypatch.delenv(name, raising=False)
    return seen


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Point huggingface_hub at a server of the test (HF_ENDPOINT, a loopback mirror the user wrote)."""
    from huggingface_hub import constants

    def start(location: str) -> Redirector:
        server = Redirector(location)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.port}")
        return server

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return start


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("10.255.255.1/x", "private"),
        ("169.254.10.10/x", "link-local"),
        ("127.0.0.1:9/x", None),
    ],  # fmt: skip
)
def test_a_redirect_inside_the_hub_client_is_refused_before_any_connection(hub, connects, target, kind):
    """The hub client follows redirects itself: each one passes the policy before it is requested (a
    loopback endpoint is a local mirror, and its redirects may stay on loopback: refused only by 9's
    closed port, as a network error)."""
    with hub(f"http://{target}") as server:
        with pytest.raises(CheckpointError) as raised:
            resolve_model_folder("me/model")
    message = str(raised.value)
    assert "\n" not in message and sum(server.requests.values()) >= 1
    host = target.split("/")[0].split(":")[0]
    if kind is None:
        assert "download policy" not in message
        return
    assert message.startswith("me/model: the hub download http://" + target)
    assert f"a {kind} address" in message and "MMSENT_ALLOW_PRIVATE_URLS=1" in message
    assert host not in connects  # refused before a connection was opened


def test_predict_with_a_hub_id_redirected_to_the_metadata_address_is_one_error_line(hub, connects, capsys):
    with hub("http://169.254.169.254/latest/meta-data/"):
        assert cli.main(["predict", "--model", "me/model", "--text", "Great phone"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: me/model: the hub download") and error.count("\n") == 1
    assert "cloud metadata" in error and "169.254.169.254" not in connects


def test_the_policy_hooks_and_the_hub_settings_are_undone_after_the_download(hub, connects):
    import huggingface_hub
    from huggingface_hub import constants

    before = huggingface_hub.get_session() if hasattr(huggingface_hub, "set_client_factory") else None
    xet = constants.HF_HUB_DISABLE_XET
    with hub("http://169.254.169.254/"), pytest.raises(CheckpointError):
        resolve_model_folder("me/model")
    assert constants.HF_HUB_DISABLE_XET == xet
    if before is not None:
        hooks = huggingface_hub.get_session().event_hooks
        assert all("url_policy" not in hook.__module__ for hook in hooks["request"] + hooks["response"])


@pytest.fixture
def rebinding(monkeypatch, connects):
    """A host name the policy's check resolves to a public address, while the connection's own resolution
    gives 127.0.0.1 (what a rebinding DNS server does between the two)."""
    resolve = socket.getaddrinfo

    def connection_resolution(host, *args, **kwargs):
        return resolve("127.0.0.1" if host == "photos.rebind.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", connection_resolution)
    monkeypatch.setattr(url_policy, "resolve", lambda host, port: ["93.184.216.34"])
    return connects


def test_a_photo_url_whose_name_rebinds_to_loopback_gets_nothing(rebinding, tmp_path):
    with Redirector(None) as server:
        url = f"http://photos.rebind.test:{server.port}/a.png"
        fetched = PhotoStore(tmp_path / "store", progress=False, retries=0).fetch([url])[url]
    assert fetched.problem == REFUSED and "connected to 127.0.0.1, a loopback address" in fetched.detail
    kept = [p.name for p in (tmp_path / "store").rglob("*") if p.is_file() and p.suffix != ".failed"]
    assert kept == []  # no photo stored, no temporary file left


def test_the_hub_hooks_check_the_connected_address_before_the_body_is_read(rebinding):
    with Redirector(None) as server, httpx.Client(event_hooks=url_policy.policy_hooks(False)) as client:
        with pytest.raises(url_policy.UrlRefused, match="connected to 127.0.0.1, a loopback address"):
            client.get(f"http://photos.rebind.test:{server.port}/a.png")
        assert sum(server.requests.values()) == 1  # the check sees the peer after the headers, not before
        # a URL that names loopback itself (a local mirror) passes both checks
        hooks = url_policy.policy_hooks(True)
        with httpx.Client(event_hooks=hooks) as mirror:
            assert mirror.get(f"http://127.0.0.1:{server.port}/b.png").content == b"ok"


def test_a_proxy_the_user_set_is_the_peer_and_is_not_judged(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.5:3128")
    monkeypatch.delenv(url_policy.ALLOW_PRIVATE_ENV, raising=False)
    url_policy.check_peer("https://photos.example.com/a.png", ("10.0.0.5", 3128), False)
    monkeypatch.setenv("NO_PROXY", "photos.example.com")
    with pytest.raises(url_policy.UrlRefused, match="a private address"):
        url_policy.check_peer("https://photos.example.com/a.png", ("10.0.0.5", 3128), False)


def test_huggingface_hub_0x_sessions_get_the_same_checks(rebinding):
    """huggingface_hub 0.x sends through `requests`: every request and every answer's peer is checked."""
    requests = pytest.importorskip("requests")
    with Redirector(None) as server:
        session = url_policy.requests_policy(requests.Session(), False)
        with pytest.raises(url_policy.UrlRefused, match="connected to 127.0.0.1, a loopback address"):
            session.get(f"http://photos.rebind.test:{server.port}/a.png")
        mirror = url_policy.requests_policy(requests.Session(), True)
        assert mirror.get(f"http://127.0.0.1:{server.port}/b.png").content == b"ok"


def test_the_full_profiles_encoder_downloads_pass_the_policy_too(hub, connects, monkeypatch):
    """transformers downloads the full profile's encoders with huggingface_hub's client: a redirect it
    meets there is refused as well (the download stands in for BertModel.from_pretrained's)."""
    import huggingface_hub

    from mmsent import encoders

    def download(*_, **__):
        huggingface_hub.get_session().get(f"http://127.0.0.1:{server.port}/bert-base-uncased/config.json")

    monkeypatch.setattr(encoders, "hub_reachable", lambda: (True, ""))
    monkeypatch.setattr(encoders.BertModel, "from_pretrained", download)
    with hub("http://169.254.169.254/latest/meta-data/") as server:
        with pytest.raises(url_policy.UrlRefused, match="a cloud metadata address"):
            encoders.load_encoders("full")
    assert "169.254.169.254" not in connects


def test_the_hub_probe_follows_no_redirect_and_passes_the_policy(connects, monkeypatch):
    from mmsent.encoders import hub_reachable

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    with Redirector("http://169.254.169.254/latest/meta-data/") as server:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.port}")
        assert hub_reachable(timeout=5) == (True, "")  # it answered (with a redirect)
        assert sum(server.requests.values()) == 1
    assert "169.254.169.254" not in connects
    monkeypatch.setenv("HF_ENDPOINT", "http://169.254.169.254")
    reachable, reason = hub_reachable(timeout=5)
    assert not reachable and "a cloud metadata address" in reason and "169.254.169.254" not in connects
