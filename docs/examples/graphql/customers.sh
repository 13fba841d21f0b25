#!/bin/sh
# Gold or platinum customers in Hangzhou, biggest spenders first, with their last 3 orders.
# TESSERA_URL (e.g. http://127.0.0.1:8000) and TESSERA_TOKEN (a personal access token) are set.
curl -sS "$TESSERA_URL/graphql" \
  -H "Authorization: Bearer $TESSERA_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "query": "query($city: String!) { customers(first: 10, filter: {city: {eq: $city}, level: {in: [gold, platinum]}}, orderBy: [total_spent_DESC]) { totalCount edges { cursor node { id name level total_spent orders(first: 3, orderBy: [placed_at_DESC]) { nodes { total placed_at status } } } } pageInfo { hasNextPage endCursor } } }",
    "variables": {"city": "Hangzhou"}
  }'
