"""A small fake of the GitHub REST API on 127.0.0.1 that records every request.

Supports GET /user, listing (paginated), creating and updating issue comments, listing and
creating issues and pull requests, workflow dispatches, and programmable failures
(POST /_fake/fail): a failure can answer instead of the handler, or after it has applied the
write (`"after": true`, the case where a retry could create a duplicate), or apply it and then
stall past the client's timeout (`"stall": seconds`, a dropped connection). Each token writes
as its own login (`logins`); by default the token is an app installation token, for which
GET /user answers 403 as it does on GitHub. Run it beside `act`:

    python tests/fakes/github_server.py --port 8765 --record requests.jsonl

or in-process with `FakeGitHub().start()` (the pytest fixture `fake_github` does this).
Control endpoints (never recorded): POST /_fake/fail, GET /_fake/requests, GET /_fake/state,
POST /_fake/reset.
"""

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

APP_LOGIN = "github-actions[bot]"


class State:
    def __init__(self, record: Path | None = None, token: str | None = None, per_page_max: int = 100):
        self.record = record
        self.token = token
        self.per_page_max = per_page_max
        # token -> login for user tokens (GET /user answers); any other token is the app's.
        self.logins: dict[str, str] = {}
        self.lock = threading.Lock()
        self.reset()

    def login_for(self, authorization: str) -> str:
        return self.logins.get(authorization.removeprefix("Bearer "), APP_LOGIN)

    def authorized(self, authorization: str) -> bool:
        token = authorization.removeprefix("Bearer ")
        if not authorization.startswith("Bearer ") or not token:
            return False
        return not self.token or token == self.token or token in self.logins

    def reset(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.comments: dict[int, dict[str, Any]] = {}
        self.issues: list[dict[str, Any]] = []
        self.pulls: list[dict[str, Any]] = []
        self.dispatches: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.ids = itertools.count(1001)
        self.numbers = itertools.count(101)

    def log(self, entry: dict[str, Any]) -> None:
        self.requests.append(entry)
        if self.record:
            with self.record.open("a") as fh:
                fh.write(json.dumps(entry) + "\n")

    def take_failure(self, method: str, path: str) -> dict[str, Any] | None:
        for failure in self.failures:
            if failure.get("method") and failure["method"] != method:
                continue
            if failure.get("path_contains") and failure["path_contains"] not in path:
                continue
            failure["times"] -= 1
            if failure["times"] <= 0:
                self.failures.remove(failure)
            return failure
        return None


def build_app(state: State) -> Starlette:
    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(
            {"message": message, "documentation_url": "https://docs.github.com/rest"}, status, headers
        )

    async def guarded(request: Request, handler: Any) -> Response:
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            payload = raw.decode(errors="replace")
        with state.lock:
            state.log(
                {
                    "time": time.time(),
                    "method": request.method,
                    "path": request.url.path,
                    "query": dict(request.query_params),
                    "authorization": request.headers.get("authorization"),
                    "api_version": request.headers.get("x-github-api-version"),
                    "json": payload,
                }
            )
            failure = state.take_failure(request.method, request.url.path)
        if failure and not (failure.get("after") or failure.get("stall")):
            return error(failure["status"], failure.get("message", "fake failure"), failure.get("headers"))
        auth = request.headers.get("authorization", "")
        if not state.authorized(auth):
            return error(401, "Bad credentials")
        with state.lock:
            response = handler(request, payload)
        if failure and failure.get("stall"):
            # Applied, then no answer until the client has given up: a dropped connection.
            await asyncio.sleep(float(failure["stall"]))
            return response
        if failure:
            # Applied, then a gateway error: the client cannot tell the write happened.
            return error(failure["status"], failure.get("message", "fake failure"), failure.get("headers"))
        return response

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def login(request: Request) -> str:
        return state.login_for(request.headers.get("authorization", ""))

    def get_user(request: Request, _: Any) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in state.logins:
            return error(403, "Resource not accessible by integration")
        return JSONResponse({"login": state.logins[token], "type": "User"})

    def list_comments(request: Request, _: Any) -> Response:
        number = int(request.path_params["number"])
        per_page = min(int(request.query_params.get("per_page", 30)), state.per_page_max)
        page = int(request.query_params.get("page", 1))
        items = [c for c in state.comments.values() if c["issue"] == number]
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            nxt = f"{base(request)}{request.url.path}?per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return JSONResponse(chunk, headers=headers)

    def create_comment(request: Request, payload: Any) -> Response:
        if not isinstance(payload, dict) or not payload.get("body"):
            return error(422, "Validation Failed: body is missing")
        number = int(request.path_params["number"])
        cid = next(state.ids)
        repo = f"{request.path_params['owner']}/{request.path_params['repo']}"
        comment = {
            "id": cid,
            "issue": number,
            "body": payload["body"],
            "html_url": f"https://github.example/{repo}/pull/{number}#issuecomment-{cid}",
            "user": {"login": login(request), "type": "Bot" if login(request) == APP_LOGIN else "User"},
        }
        state.comments[cid] = comment
        return JSONResponse(comment, 201)

    def update_comment(request: Request, payload: Any) -> Response:
        cid = int(request.path_params["cid"])
        if cid not in state.comments:
            return error(404, "Not Found")
        if not isinstance(payload, dict) or not payload.get("body"):
            return error(422, "Validation Failed: body is missing")
        state.comments[cid]["body"] = payload["body"]
        return JSONResponse(state.comments[cid])

    def create_issue(request: Request, payload: Any) -> Response:
        if not isinstance(payload, dict) or not payload.get("title"):
            return error(422, "Validation Failed: title is missing")
        number = next(state.numbers)
        repo = f"{request.path_params['owner']}/{request.path_params['repo']}"
        issue = {
            **payload,
            "number": number,
            "state": "open",
            "user": {"login": login(request)},
            "html_url": f"https://github.example/{repo}/issues/{number}",
        }
        state.issues.append(issue)
        return JSONResponse(issue, 201)

    def list_issues(request: Request, _: Any) -> Response:
        """Issues and PRs (as GitHub does, PRs carry a `pull_request` key), newest first."""
        creator = request.query_params.get("creator")
        items = [*state.issues, *({**p, "pull_request": {"url": p["html_url"]}} for p in state.pulls)]
        items = [i for i in items if not creator or i["user"]["login"] == creator]
        items.sort(key=lambda i: i["number"], reverse=request.query_params.get("direction") != "asc")
        per_page = min(int(request.query_params.get("per_page", 30)), state.per_page_max)
        return JSONResponse(items[:per_page])

    def list_pulls(request: Request, _: Any) -> Response:
        head = request.query_params.get("head")  # owner:branch
        owner = request.path_params["owner"]
        items = [p for p in state.pulls if not head or f"{owner}:{p['head']}" == head]
        return JSONResponse(items)

    def create_pull(request: Request, payload: Any) -> Response:
        if not isinstance(payload, dict) or not all(payload.get(k) for k in ("head", "base", "title")):
            return error(422, "Validation Failed: head, base and title are required")
        if any(p["head"] == payload["head"] for p in state.pulls):
            return error(422, f"Validation Failed: A pull request already exists for {payload['head']}.")
        number = next(state.numbers)
        repo = f"{request.path_params['owner']}/{request.path_params['repo']}"
        pull = {
            **payload,
            "number": number,
            "state": "open",
            "user": {"login": login(request)},
            "html_url": f"https://github.example/{repo}/pull/{number}",
        }
        state.pulls.append(pull)
        return JSONResponse(pull, 201)

    def dispatch_workflow(request: Request, payload: Any) -> Response:
        if not isinstance(payload, dict) or not payload.get("ref"):
            return error(422, "Validation Failed: ref is required")
        state.dispatches.append({"workflow": request.path_params["workflow"], **payload})
        return Response(status_code=204)

    def route(path: str, handler: Any, method: str) -> Route:
        async def endpoint(request: Request) -> Response:
            return await guarded(request, handler)

        return Route(path, endpoint, methods=[method])

    async def fail(request: Request) -> Response:
        spec = await request.json()
        spec.setdefault("times", 1)
        with state.lock:
            state.failures.append(spec)
        return JSONResponse({"queued": spec})

    async def requests(_: Request) -> Response:
        with state.lock:
            return JSONResponse(state.requests)

    async def snapshot(_: Request) -> Response:
        with state.lock:
            return JSONResponse(
                {
                    "comments": list(state.comments.values()),
                    "issues": state.issues,
                    "pulls": state.pulls,
                    "dispatches": state.dispatches,
                }
            )

    async def reset(_: Request) -> Response:
        with state.lock:
            state.reset()
        return JSONResponse({"reset": True})

    repo = "/repos/{owner}/{repo}"
    return Starlette(
        routes=[
            route(repo + "/issues/{number:int}/comments", list_comments, "GET"),
            route(repo + "/issues/{number:int}/comments", create_comment, "POST"),
            route(repo + "/issues/comments/{cid:int}", update_comment, "PATCH"),
            route("/user", get_user, "GET"),
            route(repo + "/issues", list_issues, "GET"),
            route(repo + "/issues", create_issue, "POST"),
            route(repo + "/pulls", list_pulls, "GET"),
            route(repo + "/pulls", create_pull, "POST"),
            route(repo + "/actions/workflows/{workflow}/dispatches", dispatch_workflow, "POST"),
            Route("/_fake/fail", fail, methods=["POST"]),
            Route("/_fake/requests", requests, methods=["GET"]),
            Route("/_fake/state", snapshot, methods=["GET"]),
            Route("/_fake/reset", reset, methods=["POST"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeGitHub:
    """The fake served by uvicorn in a background thread (for pytest)."""

    def __init__(self, port: int | None = None, record: Path | None = None, token: str | None = None):
        self.state = State(record, token)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(build_app(self.state), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "FakeGitHub":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("fake GitHub server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def fail(self, status: int, times: int = 1, **spec: Any) -> None:
        """Make the next `times` matching requests return `status`.

        spec: method, path_contains, headers, message; after=True applies the request first;
        stall=SECONDS applies it, then answers only after that long.
        """
        with self.state.lock:
            self.state.failures.append({"status": status, "times": times, **spec})

    def user_token(self, token: str, login: str) -> None:
        """Accept `token` as a personal token of `login` (GET /user answers; writes are by `login`)."""
        with self.state.lock:
            self.state.logins[token] = login

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--record", type=Path, help="append every request as a JSON line to this file")
    parser.add_argument("--token", help="accept only this bearer token (default: any)")
    args = parser.parse_args()
    state = State(args.record, args.token)
    uvicorn.run(build_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
