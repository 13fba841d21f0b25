"""The GraphQL schema: a static part plus types generated from the published objects."""
