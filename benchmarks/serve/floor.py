"""The HTTP floor: bare uvicorn + Starlette that parses the JSON body and returns a constant.

Same event loop (uvloop) and HTTP parser (httptools) as `modelops serve`, and the fastest
JSON parser in the lock (orjson), so the ratio to it is what validation, scoring,
metrics and logging cost on top of HTTP itself.
"""

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CONSTANT = b'{"predictions":[{"score":0.5,"label":1}]}'


async def predict(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(CONSTANT, media_type="application/json")


async def ready(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/readyz", ready)])
