"""Data in and out: imports from CSV and Excel, duplicates and merges, ingestion, exports."""
