"""The only tags and filters an action's template may use: formatting over data, nothing more.

Left out on purpose: ``load`` (no other library), ``include``/``extends`` (no file), ``debug``
(prints the context and ``sys.modules``), ``url``, ``csrf_token``, ``querystring`` (reach into
the site), ``autoescape``, ``safe``, ``safeseq`` (would let a customer's text into HTML
unescaped), ``random``, ``pprint`` and the other introspective filters, and the padding
filters (``ljust``, ``rjust``, ``center``, ``stringformat``) whose width argument builds a
string of any size. ``floatformat`` is kept with its precision capped.
"""

from __future__ import annotations

from django.template import Library, defaultfilters, defaulttags

TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
FILTERS = (
    "add",
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "dictsort",
    "dictsortreversed",
    "divisibleby",
    "escape",
    "filesizeformat",
    "first",
    "force_escape",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "slugify",
    "striptags",
    "time",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordcount",
    "wordwrap",
    "yesno",
)

MAX_DECIMALS = 20

register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in TAGS})
register.filters.update({name: defaultfilters.register.filters[name] for name in FILTERS})


@register.filter(is_safe=True)
def floatformat(value: object, arg: object = -1) -> str:
    """Django's ``floatformat`` with at most 20 decimals: ``floatformat:"999999999"`` is 20."""
    text = str(arg)
    digits = text.rstrip("gu")
    try:
        places = int(digits)
    except ValueError:
        return defaultfilters.floatformat(value, arg)
    capped = max(-MAX_DECIMALS, min(MAX_DECIMALS, places))
    return defaultfilters.floatformat(value, str(capped) + text[len(digits) :])
