"""The only tags and filters an action's template may use: formatting over data, nothing more.

Left out on purpose: ``load`` (no other library), ``include``/``extends`` (no file), ``debug``
(prints the context and ``sys.modules``), ``url``, ``csrf_token``, ``querystring`` (reach into
the site), ``autoescape``, ``safe``, ``safeseq`` (would let a customer's text into HTML
unescaped), ``random``, ``pprint`` and the other introspective filters.
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
    "center",
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
    "floatformat",
    "force_escape",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "ljust",
    "lower",
    "pluralize",
    "rjust",
    "slice",
    "slugify",
    "stringformat",
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

register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in TAGS})
register.filters.update({name: defaultfilters.register.filters[name] for name in FILTERS})
