#!/usr/bin/env python3
"""fake-llm-server - a stand-in for the Anthropic Messages API and the
OpenAI-compatible Chat Completions API, for tests/persona-llm.bats.

It listens on 127.0.0.1 on a port the kernel picks, writes that port to
--port-file, and answers POST /v1/messages (Anthropic) and POST
.../chat/completions (OpenAI-compatible) by a script: --script good,429,...
gives the behaviour of the first, second, ... request (the last one repeats):

  good      a review that fits the PersonaOutput contract (a tool_use block for
            Anthropic, a JSON message content for OpenAI)
  prose     the same review as a ```json fence inside prose (no tool_use)
  invalid   a review that does not fit (priority "urgent", no dependencies)
  notjson   prose with no JSON object at all
  cutoff    a review cut off in the middle (stop_reason max_tokens / finish_reason length)
  429       429 with Retry-After: 1
  500       500 with an error body
  401echo   401 whose message quotes the key it was sent (a leaky server)
  hang      no answer for 30 s
  cut       the connection closed without an answer
  slow      a good answer after 0.3 s (to see calls overlap)
  ground    a good answer that keeps the first item of the prompt's checklist
            ("- SEC-031: ...") under its id and adds SEC-901

Every request is logged as one JSON line in --log: its number, path, headers,
body, and how many requests were in flight when it came (max-inflight is kept in
--log's sibling file LOG.max). Only the standard library is used.
"""
import argparse
import os
import copy
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REVIEW = {
    "insights": ["Payment data crosses a trust boundary at the checkout."],
    "recommendations": [{
        "id": "SEC-001",
        "title": "Tokenize card data with the payment provider",
        "type": "blocking",
        "priority": "high",
        "estimatedCost": "2-3 person-days",
        "description": "Never let card numbers reach our servers; use the provider's hosted fields.",
        "dependencies": [],
        "references": ["PCI DSS 4.0.1 Req. 3"],
    }],
    "costAnalysis": {"category": "security", "amount": "2-3 person-days"},
    "confidence": 0.8,
}
INVALID = {
    "insights": ["Something about payments."],
    "recommendations": [{
        "id": "SEC-001",
        "title": "Tokenize card data",
        "type": "blocking",
        "priority": "urgent",
        "estimatedCost": "2 person-days",
        "description": "Tokenize.",
    }],
    "costAnalysis": {"category": "security", "amount": "2 person-days"},
    "confidence": 0.5,
}

lock = threading.Lock()
state = {"n": 0, "inflight": 0, "max": 0}


def answer(provider, review, prose, text=None):
    """A 200 answer of the provider holding review (as a tool call, JSON or prose)."""
    body = json.dumps(review, indent=2)
    if text is None and prose:
        text = "Here is my review of the epic.\n\n```json\n" + body + "\n```\n\nI hope it helps."
    if provider == "anthropic":
        content = ([{"type": "text", "text": text}] if text is not None else
                   [{"type": "tool_use", "id": "toolu_01", "name": "persona_review", "input": review}])
        return {"id": "msg_01", "type": "message", "role": "assistant", "model": "fake",
                "content": content, "stop_reason": "end_turn" if text else "tool_use",
                "usage": {"input_tokens": 1200, "output_tokens": 300}}
    return {"id": "chatcmpl-01", "object": "chat.completion", "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text if text is not None else body}}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with lock:
            state["n"] += 1
            n = state["n"]
            state["inflight"] += 1
            state["max"] = max(state["max"], state["inflight"])
            inflight = state["inflight"]
            with open(args.log + ".max", "w") as f:
                f.write("%d\n" % state["max"])
        try:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            with lock, open(args.log, "a") as f:
                f.write(json.dumps({"n": n, "path": self.path, "headers": dict(self.headers.items()),
                                    "body": body, "inflight": inflight}) + "\n")
            script = args.script.split(",")
            mode = script[min(n, len(script)) - 1]
            self.serve(mode, body)
        finally:
            with lock:
                state["inflight"] -= 1

    def serve(self, mode, body):
        if self.path.endswith("/v1/messages"):
            provider = "anthropic"
        elif self.path.endswith("/chat/completions"):
            provider = "openai"
        else:
            return self.send_json(404, {"error": {"message": "no such path: " + self.path}})
        if mode == "good":
            return self.send_json(200, answer(provider, REVIEW, False))
        if mode == "ground":
            review = copy.deepcopy(REVIEW)
            m = re.search(r"\n- ([A-Z][A-Z0-9]{1,5}-[0-9]{3}): ", json.dumps(body).replace("\\n", "\n"))
            review["recommendations"][0]["id"] = m.group(1) if m else "SEC-000"
            extra = copy.deepcopy(REVIEW["recommendations"][0])
            extra["id"] = "SEC-901"
            extra["title"] = "Rate-limit card attempts per account"
            review["recommendations"].append(extra)
            return self.send_json(200, answer(provider, review, False))
        if mode == "slow":
            time.sleep(0.3)
            return self.send_json(200, answer(provider, REVIEW, False))
        if mode == "prose":
            return self.send_json(200, answer(provider, REVIEW, True))
        if mode == "invalid":
            return self.send_json(200, answer(provider, INVALID, False))
        if mode == "cutoff":
            text = json.dumps(REVIEW)[:120]
            a = answer(provider, None, True, text=text)
            if provider == "anthropic":
                a["stop_reason"] = "max_tokens"
            else:
                a["choices"][0]["finish_reason"] = "length"
            return self.send_json(200, a)
        if mode == "notjson":
            return self.send_json(200, answer(provider, None, True, text="I would rather not."))
        if mode == "429":
            return self.send_json(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                                   "message": "rate limited"}},
                                  [("Retry-After", "1")])
        if mode == "500":
            return self.send_json(500, {"type": "error", "error": {"type": "api_error",
                                                                   "message": "internal error"}})
        if mode == "401echo":
            key = self.headers.get("x-api-key") or self.headers.get("Authorization") or ""
            return self.send_json(401, {"type": "error", "error": {
                "type": "authentication_error", "message": "invalid key " + key}})
        if mode == "hang":
            time.sleep(30)
            return None
        if mode == "cut":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        return self.send_json(500, {"error": {"message": "unknown script mode " + mode}})


ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--script", default="good")
args = ap.parse_args()

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(args.port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(args.port_file + ".tmp", args.port_file)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
