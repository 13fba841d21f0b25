"""The Python side of the e-commerce CRM packs: sample shop generators, KPIs, the demo setup.

The packs themselves (``templates_lib/ecommerce_core`` … ``crm_dashboards``) are data only;
this package holds what data cannot be: the seeded generators that make a realistic shop
(``shop``, ``service``, registered through the ``tessera.sample_generators`` entry points),
the evaluation of the dashboards' KPI blocks (``kpis``) and ``tessera_setup_demo``'s steps
(``demo``).
"""
