"""Operators manage ingestion sources and their keys, follow imports, review duplicates.

A source's HMAC key is shown once, when it is made or replaced (a message on the page);
it is stored encrypted and never appears in a form. Import jobs show their progress and
link to their rejected rows; duplicates are merged or dismissed from the list, merges
undone from theirs.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from tessera.definitions.errors import ValidationFailed

from . import ingest, jobs
from . import merge as merging
from .models import DuplicateCandidate, DuplicateStatus, ImportJob, Merge, MergeStatus, Source


class SourceForm(forms.ModelForm):
    new_key = forms.CharField(
        required=False,
        help_text="leave empty for a random key (shown once after saving)",
        widget=forms.PasswordInput(render_value=False),
    )

    class Meta:
        model = Source
        fields = ("key", "name", "objects_allowed", "status_field", "timezone", "active")


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = ("key", "name", "objects_allowed", "active", "created_at")
    actions = ["replace_key"]

    def save_model(self, request, obj, form, change) -> None:
        chosen = form.cleaned_data.get("new_key") or None
        if not change or chosen:
            raw = ingest.set_secret(obj, chosen)
            if chosen is None:
                self.message_user(
                    request,
                    f"The signing key of {obj.key} is {raw} — copy it now, it is not shown again.",
                    messages.WARNING,
                )
        super().save_model(request, obj, form, change)

    @admin.action(description="Replace the signing key (shown once)")
    def replace_key(self, request, queryset) -> None:
        for source in queryset:
            raw = ingest.set_secret(source)
            source.save(update_fields=["secret_encrypted"])
            self.message_user(
                request, f"New key of {source.key}: {raw} — copy it now.", messages.WARNING
            )


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id", "object_key", "file_name", "status", "progress_shown", "created", "updated",
        "unchanged", "rejected_link", "created_at",
    )  # fmt: skip
    list_filter = ("status", "object_key")
    readonly_fields = [f.name for f in ImportJob._meta.fields]
    actions = ["resume", "cancel"]

    def get_urls(self):
        from django.urls import path

        from .admin_upload import upload_view

        own = [
            path(
                "upload/",
                self.admin_site.admin_view(lambda request: upload_view(self.admin_site, request)),
                name="exchange_importjob_upload",
            )
        ]
        return own + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        """ "Add import job" is the upload page: a file, then its mapping, then the job."""
        return redirect(reverse("admin:exchange_importjob_upload") + "?new=1")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a job is followed here, never edited

    @admin.display(description="progress")
    def progress_shown(self, job: ImportJob) -> str:
        total = job.total_rows if job.total_rows is not None else "?"
        return f"{job.rows_done} / {total} ({job.progress:.0%})"

    @admin.display(description="rejected")
    def rejected_link(self, job: ImportJob):
        if not job.rejected:
            return 0
        url = reverse("exchange-rejected", args=[job.pk])
        return format_html('<a href="{}">{} (CSV)</a>', url, job.rejected)

    @admin.action(description="Resume the selected imports on a worker")
    def resume(self, request, queryset) -> None:
        for job in queryset.filter(status__in=["pending", "running"]):
            jobs.start(job)
        self.message_user(request, "Sent to a worker; they go on from their last chunk.")

    @admin.action(description="Cancel the selected imports")
    def cancel(self, request, queryset) -> None:
        for job in queryset:
            jobs.cancel(job)


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(admin.ModelAdmin):
    list_display = ("object_key", "first_id", "second_id", "reason", "score", "status")
    list_filter = ("status", "object_key", "reason")
    actions = ["merge_into_first", "dismiss"]

    @admin.action(description="Merge: keep the first record, fill its gaps from the second")
    def merge_into_first(self, request, queryset) -> None:
        for pair in queryset.filter(status=DuplicateStatus.OPEN):
            try:
                done = merging.merge(
                    pair.object_key, pair.first_id, pair.second_id, actor=request.user
                )
            except ValidationFailed as exc:
                self.message_user(request, f"{pair}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{pair}: merged (merge #{done.pk}, reversible).")

    @admin.action(description="Not duplicates")
    def dismiss(self, request, queryset) -> None:
        queryset.update(status=DuplicateStatus.DISMISSED)


@admin.register(Merge)
class MergeAdmin(admin.ModelAdmin):
    list_display = ("id", "object_key", "survivor_id", "duplicate_id", "status", "merged_at")
    list_filter = ("status", "object_key")
    readonly_fields = [f.name for f in Merge._meta.fields]
    actions = ["undo"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Undo the selected merges (both records restored)")
    def undo(self, request, queryset) -> None:
        for entry in queryset.filter(status=MergeStatus.MERGED):
            try:
                merging.unmerge(entry, actor=request.user)
            except ValidationFailed as exc:
                self.message_user(request, f"merge #{entry.pk}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"merge #{entry.pk} undone.")
