"""``/graphql``: one Django view over graphql-core, with the limits and error rules here.

- GET runs queries only (a mutation by GET is 405); POST takes JSON, one operation or a
  batch of at most ``batch``; other methods are 405; a body over ``body_bytes`` is 413.
- A bearer token or the session identifies the caller (401 otherwise); a session POST
  without a valid CSRF token is 403.
- A request that does not parse, validate or fit the limits is 400 with its errors and
  runs nothing. Errors of resolvers are data (200); unexpected exceptions are logged and
  returned as "internal error", never with a stack trace.
- GraphiQL (a browser GET without a query) and introspection follow ``TESSERA_GRAPHQL``.
- A request has ``seconds`` to run: resolvers stop between steps past it, and on
  PostgreSQL a statement still running at it is cancelled (``statement_deadline``); both
  answer with the ``timeout`` error.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from graphql import (
    DocumentNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)

from tessera.definitions.cache import one_revision

from . import limits as limiting
from .auth import Caller, identify
from .context import TIMEOUT_MESSAGE, RequestContext
from .permissions import Policy
from .schema.build import current_schema
from .statement_deadline import is_cancelled_statement, statements_until

logger = logging.getLogger(__name__)


class RequestRefused(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]]):
        self.status, self.errors = status, errors


def _error(code: str, message: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def _formatted(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if is_cancelled_statement(original):  # PostgreSQL stopped it at the request's deadline
        out = _error("timeout", TIMEOUT_MESSAGE)
        if error.path:
            out["path"] = error.path
        return out
    if original is not None and not isinstance(original, GraphQLError):
        logger.error("GraphQL resolver failed at %s", error.path, exc_info=original)
        out = _error("internal", "internal error")
        if error.path:
            out["path"] = error.path
        return out
    out = error.formatted
    out.setdefault("extensions", {}).setdefault("code", "invalid")
    return out


@csrf_exempt
def graphql(request: HttpRequest) -> HttpResponse:
    limits = limiting.Limits.current()
    if request.method not in ("GET", "POST"):
        response = JsonResponse({"errors": [_error("method", "use GET or POST")]}, status=405)
        response["Allow"] = "GET, POST"
        return response
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > limits.body_bytes:
        return JsonResponse(
            {"errors": [_error("too_large", f"the body is over {limits.body_bytes} bytes")]},
            status=413,
        )
    if _wants_graphiql(request):
        if not limits.graphiql:
            return JsonResponse({"errors": [_error("not_found", "GraphiQL is off")]}, status=404)
        return _graphiql(request)
    caller = identify(request)
    if caller.problem:
        status, code, message = caller.problem
        return JsonResponse({"errors": [_error(code, message)]}, status=status)
    request.token = caller.token
    try:
        with one_revision():  # one revision read for the schema and every lookup of the request
            return _respond(request, caller, limits)
    except RequestRefused as refused:
        return JsonResponse({"errors": refused.errors}, status=refused.status)


def _respond(request: HttpRequest, caller: Caller, limits: limiting.Limits) -> HttpResponse:
    payloads, batched = _payloads(request, limits)
    schema = current_schema()
    # every operation of a batch is checked before any runs: a refusal runs nothing
    prepared = [_prepare(schema, payload, request.method, limits) for payload in payloads]
    results = []
    for item in prepared:
        ctx = RequestContext(
            caller.user,
            Policy.for_user(caller.user),
            caller.scopes,
            time.monotonic() + limits.seconds,
            request,
        )
        results.append(_execute(schema, item, ctx, alone=not batched))
    if batched:
        return JsonResponse(results, safe=False)
    return JsonResponse(results[0])


def _wants_graphiql(request: HttpRequest) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return request.method == "GET" and "query" not in request.GET and "text/html" in accept


def _graphiql(request: HttpRequest) -> HttpResponse:
    from graphene_django.views import GraphQLView as Page

    names = [n for n in vars(Page) if n.endswith(("_version", "_sri"))]
    return render(
        request,
        Page.graphiql_template,
        {
            **{n: getattr(Page, n) for n in names},
            "subscription_path": None,
            "graphiql_header_editor_enabled": True,
            "graphiql_should_persist_headers": False,
            "graphiql_input_value_deprecation": False,
        },
    )


def _payloads(request: HttpRequest, limits: limiting.Limits) -> tuple[list[dict[str, Any]], bool]:
    if request.method == "GET":
        variables = request.GET.get("variables")
        try:
            parsed = json.loads(variables) if variables else None
        except ValueError:
            raise RequestRefused(400, [_error("bad_json", "variables are not JSON")]) from None
        return [
            {
                "query": request.GET.get("query"),
                "variables": parsed,
                "operationName": request.GET.get("operationName"),
            }
        ], False
    if len(request.body) > limits.body_bytes:  # a body sent without a Content-Length
        raise RequestRefused(
            413, [_error("too_large", f"the body is over {limits.body_bytes} bytes")]
        )
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused(400, [_error("bad_json", "the body is not JSON")]) from None
    if isinstance(body, list):
        if not body or len(body) > limits.batch:
            raise RequestRefused(
                400, [_error("batch", f"a batch holds 1 to {limits.batch} operations")]
            )
        if not all(isinstance(item, dict) for item in body):
            raise RequestRefused(400, [_error("bad_request", "each operation is a JSON object")])
        return body, True
    if not isinstance(body, dict):
        raise RequestRefused(400, [_error("bad_request", "send {query, variables, operationName}")])
    return [body], False


MAX_DOCUMENTS = 256


def _valid_document(schema, query: str, limits: limiting.Limits):
    """The parsed document of ``query`` once it passed validation for this schema.

    Clients send the same few queries again and again; parsing and validating them is a
    good part of a small request. Valid documents are kept on the schema object (so they
    go with its revision), at most ``MAX_DOCUMENTS`` of them.
    """
    cache = schema.__dict__.setdefault("_tessera_documents", {})
    key = (query, limits.introspection, limits.tokens, limits.aliases)
    document = cache.get(key)
    if document is not None:
        return document
    try:
        document = parse(query, max_tokens=limits.tokens)
    except GraphQLError as exc:
        raise RequestRefused(400, [_formatted(exc)]) from None
    if limiting.count_aliases(document) > limits.aliases:
        raise RequestRefused(400, [_error("too_many_aliases", f"at most {limits.aliases} aliases")])
    rules = list(specified_rules)
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    errors = validate(schema.graphql_schema, document, rules)
    if errors:
        raise RequestRefused(400, [_formatted(e) for e in errors[:20]])
    if len(cache) >= MAX_DOCUMENTS:
        cache.clear()
    cache[key] = document
    return document


def _never(value: Any) -> bool:
    return False


@dataclass
class Prepared:
    """An operation that parsed, validated and fits the limits: ready to run."""

    document: DocumentNode
    variables: dict[str, Any] | None
    name: str | None


def _prepare(schema, payload: dict[str, Any], method: str, limits) -> Prepared:
    query, variables, name = (
        payload.get("query"),
        payload.get("variables"),
        payload.get("operationName"),
    )
    if not isinstance(query, str) or not query.strip():
        raise RequestRefused(400, [_error("bad_request", "the query is missing")])
    if variables is not None and not isinstance(variables, dict):
        raise RequestRefused(400, [_error("bad_request", "variables are a JSON object")])
    if name is not None and not isinstance(name, str):
        raise RequestRefused(400, [_error("bad_request", "operationName is text")])
    document = _valid_document(schema, query, limits)
    bad_text = limiting.unstorable_text(document, variables)
    if bad_text:
        raise RequestRefused(
            400, [_error("invalid_text", f"{bad_text} holds NUL or an unpaired surrogate")]
        )
    operation = get_operation_ast(document, name)
    if operation is None:
        raise RequestRefused(400, [_error("bad_request", "name the operation to run")])
    if method == "GET" and operation.operation is not OperationType.QUERY:
        raise RequestRefused(405, [_error("method", "send mutations with POST")])
    problems = limiting.check(schema.graphql_schema, document, operation, variables or {}, limits)
    if problems:
        raise RequestRefused(400, [_formatted(e) for e in problems])
    return Prepared(document, variables, name)


def _execute(schema, prepared: Prepared, ctx: RequestContext, *, alone: bool) -> dict:
    with statements_until(ctx.deadline):
        result = execute(
            schema.graphql_schema,
            prepared.document,
            context_value=ctx,
            variable_values=prepared.variables,
            operation_name=prepared.name,
            is_awaitable=_never,  # resolvers are synchronous; skips a check per field
        )
    unrun = result.data is None and result.errors and not any(e.path for e in result.errors)
    if unrun and alone:
        # variables that do not coerce: nothing ran, the request was wrong
        raise RequestRefused(400, [_formatted(e) for e in result.errors[:20]])
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [_formatted(e) for e in result.errors]
    return out
