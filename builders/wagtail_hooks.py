"""The builders in the Wagtail admin's menu, shown to people who hold the rights."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from .access import VIEW_DEFINITIONS, VIEW_PACKS


class PermittedItem(MenuItem):
    def __init__(self, *args, permission: str, **kwargs):
        self.permission = permission
        super().__init__(*args, **kwargs)

    def is_shown(self, request):
        return request.user.has_perm(self.permission)


@hooks.register("register_admin_menu_item")
def definitions_menu():
    return PermittedItem(
        _("Definitions"),
        reverse("builders:index"),
        name="definitions",
        icon_name="code",
        order=150,
        permission=VIEW_DEFINITIONS,
    )


@hooks.register("register_admin_menu_item")
def packs_menu():
    return PermittedItem(
        _("Template packs"),
        reverse("builders:packs"),
        name="packs",
        icon_name="folder-inverse",
        order=160,
        permission=VIEW_PACKS,
    )
