"""Remote read-only layers against a real HTTP server on loopback (``http.server`` in a thread):
a store directory and a bundle, corrupt bytes, a server that goes away, the separator rule."""

from __future__ import annotations

import functools
import http.server
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache import (
    CorruptArtifactWarning,
    LayerWarning,
    OfflineMissError,
    Settings,
    Store,
    split_layers,
    write_bundle,
)
from cache.remote import RemoteLayer
from tests.cache.test_cache_record import make_record

pytestmark = pytest.mark.extra("remote")


class _Handler(http.server.SimpleHTTPRequestHandler):
    corrupt = False  # set on the subclass a server uses

    def copyfile(self, source, outputfile):  # noqa: D102 - http.server's hook
        data = bytearray(source.read())
        if self.corrupt and self.path.endswith(".h5") and data:
            data[len(data) // 2] ^= 0xFF
        outputfile.write(bytes(data))

    def log_message(self, *args):  # quiet
        pass


class Server:
    """A loopback HTTP server serving ``directory`` until :meth:`stop`."""

    def __init__(self, directory: Path, corrupt: bool = False) -> None:
        handler = type("H", (_Handler,), {"corrupt": corrupt})
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[Server, list]]:
    """A store directory ``/store`` and a bundle ``/models.h5`` of the same three records."""
    site = tmp_path / "site"
    records = [make_record(i) for i in range(3)]
    store = Store(site / "store", layers=[])
    for r in records:
        store.put(r)
    write_bundle(site / "models.h5", [(r, None) for r in records])
    server = Server(site)
    yield server, records
    server.stop()


@pytest.mark.parametrize("path", ["/store", "/models.h5"])
def test_remote_directory_and_bundle_are_fetched_verified_and_copied(tmp_path, served, path):
    server, records = served
    store = Store(tmp_path / "root", layers=[server.url + path])
    assert store.layers[0].kind == "remote"
    assert store.keys() == sorted(r.key for r in records)  # listing over HTTP
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.get(records[0].key) == records[0]
    assert store.root.get(records[0].key) == records[0]  # copied into the local root
    assert store.get("0" * 64) is None
    assert all(r.ok for r in store.verify())
    server.stop()  # now local
    assert Store(tmp_path / "root", layers=[]).get(records[0].key) == records[0]


def test_corrupt_bytes_are_never_used_and_fall_through(tmp_path):
    site = tmp_path / "site"
    records = [make_record(i) for i in range(2)]
    Store(site / "store", layers=[]).put(records[0])
    write_bundle(site / "models.h5", [(records[0], None)])
    good = tmp_path / "good.h5"
    write_bundle(good, [(records[0], None)])
    server = Server(site, corrupt=True)
    try:
        for path in ("/store", "/models.h5"):
            store = Store(tmp_path / f"root{path[1:4]}", layers=[server.url + path])
            with pytest.warns((CorruptArtifactWarning, LayerWarning)):
                assert store.get(records[0].key) is None
            assert not store.root.contains(records[0].key)
            store = Store(tmp_path / f"root2{path[1:4]}", layers=[server.url + path, str(good)])
            with pytest.warns((CorruptArtifactWarning, LayerWarning)):
                assert store.get(records[0].key) == records[0]  # the next layer's copy
            assert not all(r.ok for r in store.verify())
    finally:
        server.stop()


def test_server_that_goes_away_mid_run(tmp_path, served):
    server, records = served
    fallback = tmp_path / "fallback.h5"
    write_bundle(fallback, [(records[2], None)])
    store = Store(tmp_path / "root", layers=[server.url + "/store", str(fallback)], offline=True)
    assert store.get(records[0].key) == records[0]
    server.stop()
    with pytest.warns(LayerWarning, match="unreachable"):
        assert store.get(records[1].key) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once; the layer is not asked again
        assert store.get(records[2].key) == records[2]  # falls through to the next layer
        with pytest.raises(OfflineMissError):
            store.get_or_create(records[1].key, lambda: records[1], spec=records[1].spec)
    assert store.get(records[0].key) == records[0]  # copied into the root before
    dead = Store(tmp_path / "r2", layers=[server.url + "/models.h5"])
    with pytest.warns(LayerWarning):
        assert dead.get(records[0].key) is None and dead.keys() == []
    assert not list(dead.verify())[-1].ok


def test_runtime_uses_a_remote_layer_named_in_the_environment(tmp_path, served, monkeypatch):
    server, records = served
    root = tmp_path / "root"
    monkeypatch.setenv("E2C_CACHE_DIR", str(root))
    monkeypatch.setenv("E2C_CACHE_PATH", f"{tmp_path / 'none'}{os.pathsep}{server.url}/store")
    with pytest.warns(LayerWarning, match="none"):
        store = Store()
    assert [layer.location for layer in store.layers] == [
        str(tmp_path / "none"),
        f"{server.url}/store",
    ]
    assert store.get(records[1].key) == records[1]


def test_separator_rule_keeps_urls_whole():
    assert split_layers("/a:https://h.org/s:/b.h5:s3://bucket/x", ":") == [
        "/a",
        "https://h.org/s",
        "/b.h5",
        "s3://bucket/x",
    ]
    assert split_layers("http://127.0.0.1:8000/store:/c::", ":") == [
        "http://127.0.0.1:8000/store",
        "/c",
    ]
    assert split_layers("https://h:443:/d", ":") == ["https://h:443", "/d"]
    assert split_layers(r"C:\a;https://h/s", ";") == [r"C:\a", "https://h/s"]


def test_remote_layer_never_writes(tmp_path, served):
    server, records = served
    layer = RemoteLayer(server.url + "/store")
    assert not layer.writable and not hasattr(layer, "put")
    endless = RemoteLayer(server.url + "/store", timeout=1e300, deadline=1e300, max_bytes=2**80)
    assert endless.get(records[0].key) == records[0]  # "no bound" works, as long as it can


def test_a_server_without_index_pages_still_serves_by_key(tmp_path, served):
    server, records = served

    class NoIndex(_Handler):
        def list_directory(self, path):
            self.send_error(404)

    site = Path(server.httpd.RequestHandlerClass.keywords["directory"])
    plain = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(NoIndex, directory=str(site))
    )
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{plain.server_address[1]}/store"
        store = Store(tmp_path / "root", layers=[url])
        with pytest.warns(LayerWarning, match="cannot list"):
            assert store.keys() == []
        assert store.get(records[1].key) == records[1]
    finally:
        plain.shutdown()
        plain.server_close()


@pytest.mark.parametrize("path", ["/store", "/models.h5"])
def test_e2c_lists_and_verifies_a_remote_layer(tmp_path, served, path):
    import json

    from click.testing import CliRunner

    import cli

    server, records = served
    opts = ["--cache-dir", str(tmp_path / "root"), "--cache-path", server.url + path]
    listing = CliRunner().invoke(cli.main, [*opts, "cache", "ls", "--json"])
    rows = json.loads(listing.stdout)
    assert [r["key"] for r in rows] == sorted(r.key for r in records)
    assert all(r["valid"] and r["layer_kind"] == "remote" for r in rows)
    verify = CliRunner().invoke(cli.main, [*opts, "cache", "verify"])
    assert verify.exit_code == 0 and "3 artifacts checked, 0 invalid" in verify.output


_segment = st.text(alphabet="abcxyz019_-.", min_size=1, max_size=6)
_local = st.lists(_segment, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
_url = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "s3", "gs"]),
    st.from_regex(r"[a-z][a-z0-9.]{0,8}", fullmatch=True),
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    st.one_of(st.just(""), _local),
)


@given(st.lists(st.one_of(_local, _url), max_size=6))
def test_separator_rule_round_trips(layers):
    """Any mix of absolute local paths and URLs (with ports) joined by ':' splits back whole."""
    assert split_layers(":".join(layers), ":") == layers


def test_unknown_protocol_is_reported_when_the_store_is_made(tmp_path):
    with pytest.warns(LayerWarning, match="unsupported URL"):
        store = Store(tmp_path, layers=["nosuchproto://host/store"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once
        assert store.get(make_record(1).key) is None
    assert not list(store.verify())[-1].ok


def test_every_layer_implements_the_protocol(tmp_path):
    from cache import Bundle, FileStore, Layer, WritableLayer

    root = FileStore(tmp_path / "root")
    layers = [root, FileStore(tmp_path, writable=False), Bundle(tmp_path / "b.h5")]
    layers.append(RemoteLayer("http://127.0.0.1:9/store"))
    assert all(isinstance(layer, Layer) for layer in layers)
    assert [isinstance(layer, WritableLayer) for layer in layers] == [True, True, False, False]
    assert [layer.kind for layer in layers] == ["directory", "directory", "bundle", "remote"]


# ------------------------------------------------- hostile or unreachable servers (issue 17.4)

FAST = Settings(remote_timeout_s=5.0, remote_deadline_s=1.0, remote_max_mb=1.0)


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every GET in one of three bad ways (``mode`` is set on a subclass)."""

    mode = "drip"
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802 - http.server's hook
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if self.mode == "huge":
            self.send_header("Content-Length", str(10**15))
        self.end_headers()
        stop = time.monotonic() + 20  # never outlive the test by much
        try:
            while time.monotonic() < stop:
                if self.mode == "drip":
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)  # well within the stall timeout: only the deadline stops it
                elif self.mode == "endless":
                    self.wfile.write(b"\0" * 65536)
                else:  # "huge": announce 1e15 bytes, then say nothing
                    time.sleep(0.2)
        except OSError:
            pass  # the client gave up

    def log_message(self, *args):
        pass


@pytest.fixture
def hostile(request) -> Iterator[str]:
    handler = type("H", (_Hostile,), {"mode": request.param})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _spooled_bytes() -> int:
    return sum(
        f.stat().st_size
        for d in Path(tempfile.gettempdir()).glob("e2c-remote-*")
        for f in d.glob("*")
        if f.is_file()
    )


@pytest.mark.parametrize(
    "hostile, path, message",
    [
        ("drip", "/store", "deadline of 1 s (E2C_REMOTE_DEADLINE_S)"),
        ("drip", "/m.h5", "deadline of 1 s (E2C_REMOTE_DEADLINE_S)"),
        ("endless", "/store", "sends more than 1048576 bytes"),
        ("endless", "/m.h5", "sends more than 1048576 bytes"),
        ("huge", "/store", "announces 1000000000000000 bytes"),
        ("huge", "/m.h5", "announces 1000000000000000 bytes"),
    ],
    indirect=["hostile"],
)
def test_every_fetch_has_a_deadline_and_a_size_cap(tmp_path, hostile, path, message):
    store = Store(tmp_path / "root", layers=[hostile + path], settings=FAST)
    key = make_record(1).key
    start = time.monotonic()
    with pytest.warns((LayerWarning, CorruptArtifactWarning)) as caught:
        assert store.get(key) is None
    elapsed = time.monotonic() - start
    assert elapsed < 3.0, elapsed  # the deadline (1 s) holds; a huge length is refused at once
    if "announces" in message:
        assert elapsed < 1.0
    assert any(message in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert (
        "E2C_REMOTE_MAX_MB" in message
        or "deadline" in message
        or any("E2C_REMOTE_MAX_MB" in str(w.message) for w in caught)
    )
    assert _spooled_bytes() <= 2 << 20  # nothing beyond the cap (plus one chunk) was kept
    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert store.get(key) is None
        if path.endswith(".h5"):  # a bundle that failed is not fetched again
            assert time.monotonic() - start < 0.5


@pytest.mark.parametrize("hostile", ["drip"], indirect=True)
def test_listing_and_verify_keep_the_deadline(tmp_path, hostile):
    store = Store(tmp_path / "root", layers=[hostile + "/store"], settings=FAST)
    start = time.monotonic()
    with pytest.warns(LayerWarning, match="cannot list"):
        assert store.keys() == []
    results = store.verify()
    assert not results[-1].ok and "deadline" in results[-1].reason
    assert time.monotonic() - start < 5.0


@pytest.mark.parametrize("hostile", ["drip"], indirect=True)
def test_the_deadline_comes_from_the_environment(tmp_path, hostile, monkeypatch):
    monkeypatch.setenv("E2C_REMOTE_DEADLINE_S", "0.5")
    store = Store(tmp_path / "root", layers=[hostile + "/store"])
    start = time.monotonic()
    with pytest.warns(LayerWarning, match="deadline of 0.5 s"):
        assert store.get(make_record(1).key) is None
    assert time.monotonic() - start < 2.5


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1/y", "http://127.0.0.1:1/s", "gs://"])
def test_an_unreachable_layer_of_any_scheme_is_a_warning_and_skipped(tmp_path, url):
    fallback = tmp_path / "fallback.h5"
    write_bundle(fallback, [(make_record(2), None)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = Store(tmp_path / "root", layers=[url, str(fallback)], settings=FAST)
        assert store.get(make_record(1).key) is None
        assert store.get(make_record(2).key) == make_record(2)
        store.keys()
    assert caught and all(issubclass(w.category, LayerWarning) for w in caught)
    from click.testing import CliRunner

    import cli

    result = CliRunner().invoke(
        cli.main, ["--cache-dir", str(tmp_path / "root"), "--cache-path", url, "cache", "ls"]
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------- URLs in E2C_CACHE_PATH (issue 17.5)


def test_urls_with_ipv6_hosts_and_credentials_stay_whole():
    assert split_layers("/a:http://[::1]:18765/store:/b", ":") == [
        "/a",
        "http://[::1]:18765/store",
        "/b",
    ]
    assert split_layers("http://user:pass@host:80/s:/x.h5", ":") == [
        "http://user:pass@host:80/s",
        "/x.h5",
    ]
    assert split_layers("https://u:p@[fe80::1%25eth0]:443:s3://b/k", ":") == [
        "https://u:p@[fe80::1%25eth0]:443",
        "s3://b/k",
    ]
    assert split_layers(r"C:\a;https://u:p@h:81/s", ";") == [r"C:\a", "https://u:p@h:81/s"]


def test_credentials_are_never_printed(tmp_path, served, monkeypatch):
    server, records = served
    port = server.url.rsplit(":", 1)[1]
    good = f"http://alice:s3cretpw@127.0.0.1:{port}/store?token=t0psecret"
    dead = "http://bob:hunter2pw@127.0.0.1:1/store"
    monkeypatch.setenv("E2C_CACHE_PATH", f"{good}{os.pathsep}{dead}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = Store(tmp_path / "root")
        assert [x.location for x in store.layers] == [
            f"http://***@127.0.0.1:{port}/store?***",
            "http://***@127.0.0.1:1/store",
        ]
        assert store.get(records[0].key) == records[0]  # the credentials are still used
        store.layers[1].get(records[1].key)
        store.verify()
    from click.testing import CliRunner

    import cli

    shown = [str(w.message) for w in caught] + [repr(store), repr(store.settings)]
    for args in (["cache", "path", "--all"], ["cache", "path", "--json"], ["cache", "verify"]):
        result = CliRunner().invoke(cli.main, ["--cache-dir", str(tmp_path / "r2"), *args])
        shown.append(result.output)
    assert any("unreachable" in text for text in shown)
    for text in shown:
        for secret in ("s3cretpw", "hunter2pw", "alice", "bob", "t0psecret"):
            assert secret not in text, text


def test_a_malformed_url_is_a_warning_naming_it(tmp_path):
    with pytest.warns(LayerWarning, match="malformed URL"):
        store = Store(tmp_path / "root", layers=["http://h:99999/s"])
    assert store.get(make_record(1).key) is None
