"""The MLflow part of the model page: the link, the picker of MLflow versions, the imports."""

from __future__ import annotations

from django.http import HttpRequest

from apps.core.permissions import can, user_of
from apps.core.registry import Section
from apps.integrations import services
from apps.integrations.forms import AutomaticForm, ImportForm, LinkForm
from apps.integrations.models import MlflowImport
from apps.registry.models import RegisteredModel


def sections(request: HttpRequest, model: RegisteredModel) -> list[Section]:
    user = user_of(request)
    link = services.link_of(model)
    may_link = can(user, services.LINK, model)
    connections = services.connections_for(user) if may_link else []
    if link is None and not (may_link and connections):
        return []  # nothing to show: not linked, and this person cannot link it
    imports = list(
        MlflowImport.objects.filter(model=model)
        .select_related("version", "job", "requested_by")
        .order_by("-requested_at", "-id")[:10]
    )
    return [
        Section(
            "integrations/_model_section.html",
            {
                "model": model,
                "link": link,
                "may_link": may_link,
                "may_import": may_link
                and link is not None
                and any(c.pk == link.connection_id for c in connections),
                "link_form": LinkForm(connections=connections, auto_id="mlflow-%s"),
                "import_form": ImportForm(auto_id="mlflow-import-%s"),
                "automatic_form": AutomaticForm(
                    auto_id="mlflow-auto-%s",
                    initial={
                        "on_version_created": link.on_version_created,
                        "on_alias": link.on_alias,
                        "holdout_artifact": link.holdout_artifact,
                        "target_column": link.target_column,
                        "sensitive_column": link.sensitive_column,
                    }
                    if link
                    else None,
                ),
                "imports": imports,
            },
            order=60,
        )
    ]
