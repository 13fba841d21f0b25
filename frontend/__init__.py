"""The operator UI: screens rendered from screen definitions, for the people who work in them."""
