"""The import task: runs a job to its end; safe to deliver twice (the claim decides)."""

from __future__ import annotations

from celery import shared_task

from .models import ImportJob


@shared_task(name="tessera.exchange.run_import", acks_late=True, ignore_result=True)
def run_import(job_id: int) -> None:
    from . import importer

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is not None:
        importer.run(job)
