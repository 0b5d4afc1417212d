"""A local stand-in for the Kubeflow Pipelines v2beta1 REST API, for testing `submit` without a cluster.

It implements the calls kfp.Client makes to upload a pipeline or a version, find or create an
experiment and create a run, answering with the JSON shapes of the v2beta1 API, and records
every request (method, path, query, JSON body or uploaded file). It runs no pipeline.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

API = "/apis/v2beta1"
NOW = "2026-12-03T12:00:00Z"


class KfpStandIn:
    def __init__(self):
        self.requests: list[dict] = []
        self.pipelines: dict[str, dict] = {}
        self.versions: dict[str, list[dict]] = {}
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.uploads: list[bytes] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # --- the API ---

    def handle(self, method: str, path: str, query: dict, body: bytes, content_type: str):
        record = {"method": method, "path": path, "query": query}
        self.requests.append(record)
        if path == f"{API}/healthz":
            return 200, {"multi_user": False}
        if method == "GET" and path == f"{API}/pipelines":
            name = _filter_value(query)
            found = [p for p in self.pipelines.values() if name in (None, p["display_name"])]
            return 200, {"pipelines": found, "total_size": len(found)} if found else {}
        if method == "POST" and path in (f"{API}/pipelines/upload", f"{API}/pipelines/upload_version"):
            package = _uploaded_file(body, content_type)
            record["file"] = package
            self.uploads.append(package)
            if path.endswith("/upload"):
                pid = str(uuid.uuid4())
                self.pipelines[pid] = {"pipeline_id": pid, "display_name": query["name"][0],
                                       "name": query["name"][0], "created_at": NOW}
                self.versions[pid] = []
                self._add_version(pid, query["name"][0], package)
                return 200, self.pipelines[pid]
            pid = query["pipelineid"][0]
            if pid not in self.pipelines:
                return 404, {"error": f"pipeline {pid} not found"}
            return 200, self._add_version(pid, query["name"][0], package)
        if method == "GET" and path.startswith(f"{API}/pipelines/") and path.endswith("/versions"):
            pid = path.split("/")[-2]
            newest_first = sorted(self.versions.get(pid, []), key=lambda v: v["seq"], reverse=True)
            return 200, {"pipeline_versions": [_public(v) for v in newest_first], "total_size": len(newest_first)}
        if method == "GET" and path == f"{API}/experiments":
            name = _filter_value(query)
            found = [e for e in self.experiments.values() if name in (None, e["display_name"])]
            return 200, {"experiments": found, "total_size": len(found)} if found else {}
        if method == "POST" and path == f"{API}/experiments":
            experiment = json.loads(body)
            record["json"] = experiment
            eid = str(uuid.uuid4())
            self.experiments[eid] = {**experiment, "experiment_id": eid, "created_at": NOW,
                                     "storage_state": "AVAILABLE"}
            return 200, self.experiments[eid]
        if method == "POST" and path == f"{API}/runs":
            run = json.loads(body)
            record["json"] = run
            rid = str(uuid.uuid4())
            self.runs[rid] = {**run, "run_id": rid, "created_at": NOW, "state": "PENDING",
                              "storage_state": "AVAILABLE"}
            return 200, self.runs[rid]
        return 404, {"error": f"the stand-in does not implement {method} {path}"}

    def _add_version(self, pid: str, name: str, package: bytes) -> dict:
        version = {"pipeline_id": pid, "pipeline_version_id": str(uuid.uuid4()), "display_name": name,
                   "name": name, "created_at": NOW, "seq": len(self.versions[pid])}
        self.versions[pid].append(version)
        return _public(version)

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = standin.handle(self.command, url.path, parse_qs(url.query), body,
                                                 self.headers.get("Content-Type", ""))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args):
                pass

        return Handler


def _public(version: dict) -> dict:
    return {k: v for k, v in version.items() if k != "seq"}


def _filter_value(query: dict) -> str | None:
    """The string an EQUALS filter on the name asks for (the only filter kfp.Client sends here)."""
    if "filter" not in query:
        return None
    predicates = json.loads(query["filter"][0]).get("predicates", [])
    return next((p.get("stringValue", p.get("string_value")) for p in predicates), None)


def _uploaded_file(body: bytes, content_type: str) -> bytes:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            return part.get_payload(decode=True)
    raise ValueError("no uploadfile part in the upload")
