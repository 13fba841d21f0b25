"""The admin's import page: upload, see the suggested mapping and first rows, change the
mapping, check every row (dry run), start the job and follow it in the job list.

The uploaded file waits under MEDIA_ROOT/imports; which one this person is mapping is kept
in their session. The person needs the create right on the object (update too with a key)
and write access to every mapped field, as over HTTP.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from tessera.api.permissions import Policy
from tessera.definitions.cache import published
from tessera.definitions.models import Definition, Status

from . import importer, jobs
from .checking import PlanRefused
from .reading import FileProblem

SESSION_KEY = "exchange_upload"


def _objects() -> list[tuple[str, str]]:
    keys = Definition.objects.filter(kind="object", status=Status.PUBLISHED).values_list(
        "key", flat=True
    )
    return [(k, k) for k in sorted(keys)]


class StartForm(forms.Form):
    object_key = forms.ChoiceField(label="Object", choices=())
    file = forms.FileField(help_text="CSV (UTF-8, GBK…) or Excel (.xlsx)")
    region = forms.CharField(required=False, help_text="default country of phones, e.g. CN")
    timezone = forms.CharField(required=False, help_text="of times without an offset")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["object_key"].choices = _objects()


def _refusal(problems: list) -> list[dict[str, str]]:
    return [{"path": e.path, "message": e.message} for e in problems]


def upload_view(admin_site, request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {**admin_site.each_context(request), "problems": []}
    if request.GET.get("new"):
        request.session.pop(SESSION_KEY, None)
    upload = request.session.get(SESSION_KEY)
    form = StartForm()
    mapping: dict[str, str] | None = None
    key = ""
    if request.method == "POST" and request.POST.get("step") != "map":
        form = StartForm(request.POST, request.FILES)
        if form.is_valid():
            sent = form.cleaned_data["file"]
            path = jobs.keep_upload(sent.name, sent.chunks())
            options = {
                name: form.cleaned_data[name]
                for name in ("region", "timezone")
                if form.cleaned_data[name]
            }
            upload = {
                "path": str(path),
                "object": form.cleaned_data["object_key"],
                "name": sent.name[:255],
                "options": options,
            }
            request.session[SESSION_KEY] = upload
            return redirect(request.path)
    elif request.method == "POST" and upload:
        mapping = {
            name[4:]: value
            for name, value in request.POST.items()
            if name.startswith("map:") and value
        }
        key = request.POST.get("key", "")
        fields = [k.strip() for k in key.split(",") if k.strip()]
        policy = Policy.for_user(request.user)
        denied = [
            f"{action} {upload['object']} records"
            for action in ("create", *(("update",) if fields else ()))
            if not policy.can(upload["object"], action)
        ] + policy.unwritable(upload["object"], list(mapping.values()))
        if denied:
            context["problems"] = [{"path": "$", "message": "you may not " + ", ".join(denied)}]
        else:
            try:
                if "start" in request.POST:
                    job = jobs.create_job(
                        upload["path"], upload["object"], mapping, key_fields=fields,
                        options=upload["options"], actor=request.user, file_name=upload["name"],
                    )  # fmt: skip
                    jobs.start(job)
                    request.session.pop(SESSION_KEY, None)
                    return redirect(reverse("admin:exchange_importjob_changelist"))
                report = importer.dry_run(
                    upload["path"], upload["object"], mapping, fields, upload["options"]
                )
                context["report"] = report.as_dict()
            except (FileProblem, PlanRefused) as exc:
                context["problems"] = _refusal(exc.errors)
    if upload:
        definition = published("object", upload["object"])
        try:
            shown = importer.preview(
                upload["path"], upload["object"], mapping=mapping, options=upload["options"], rows=5
            )
        except (FileProblem, PlanRefused) as exc:
            request.session.pop(SESSION_KEY, None)
            context["problems"] += _refusal(exc.errors)
            upload, shown = None, None
        if shown is not None:
            chosen = mapping if mapping is not None else shown.mapping
            context.update(
                upload=upload,
                preview=shown,
                key=key,
                fields=list((definition.body if definition else {}).get("properties", {})),
                columns=[
                    {
                        "name": column,
                        "field": chosen.get(column),
                        "samples": [row["cells"][i] for row in shown.rows if i < len(row["cells"])],
                    }
                    for i, column in enumerate(shown.header)
                ],
            )
    context["start_form"] = form
    return TemplateResponse(request, "exchange/upload.html", context)
