"""The e-commerce CRM's own actions, registered through the plugin API like any plugin's.

- ``faq_answer``: a new ticket whose text matches an FAQ entry gets the entry and its answer;
- ``reply_transition``: the customer's reply to a ticket moves its workflow on (solved → closed,
  anything else → back to an agent);
- ``recommend_products``: products bought by customers with the same category affinity,
  computed from order data, written to the customer for a campaign's message.

The template packs in ``templates_lib`` (after-sales, lifecycle-campaigns) use them by type.
"""

from __future__ import annotations


def register(registries) -> None:
    from .faq import FaqAnswer
    from .recommend import RecommendProducts
    from .replies import ReplyTransition

    registries.actions.register(FaqAnswer())
    registries.actions.register(ReplyTransition())
    registries.actions.register(RecommendProducts())
