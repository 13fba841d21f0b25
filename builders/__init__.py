"""The authoring side: definitions, builders, screen pages and packs in the Wagtail admin."""
