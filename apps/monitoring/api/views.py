from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedAPIView
from apps.deployments.models import Deployment
from apps.monitoring import series
from apps.monitoring.api.serializers import SeriesSerializer
from apps.validation import evidence

PARAMETERS = [
    OpenApiParameter(
        "metric",
        str,
        description="requests, rows, latency_p50, latency_p95, latency_p99, score_psi, "
        "psi:<feature>, or from outcomes: roc_auc, accuracy, precision, recall, brier, "
        "positive_rate (binary), accuracy (multiclass), rmse, mae, bias (regression), "
        "labelled_share, label_delay_hours, refused:<kind> (malformed, key, too_large, "
        "signature, other_4xx, server_error); all when absent",
    ),
    OpenApiParameter("window", str, description="24h (default), 7d, 30d or 90d"),
    OpenApiParameter("from", str, description="first day, YYYY-MM-DD (with `to`)"),
    OpenApiParameter("to", str, description="last day, YYYY-MM-DD (with `from`)"),
]


class SeriesView(ScopedAPIView):
    """A live or past deployment's monitoring figures over a window, from its rollups."""

    queryset = Deployment.objects.select_related("model", "version", "environment")
    pagination_class = None

    @extend_schema(
        parameters=PARAMETERS,
        responses={
            200: SeriesSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        deployment = self.get_object()
        try:
            window = series.window_from(request.query_params)
        except series.WindowError as problem:
            raise ValidationError({"window": [str(problem)]}) from None
        signature = evidence.signature_of(deployment.version) or {}
        found = series.series(
            deployment,
            window,
            evidence.baseline_of(deployment.version_id),
            signature.get("task", ""),
        )
        values = {name: found[name] for name in series.METRICS if name != "psi"}
        values.update({f"psi:{name}": points for name, points in found["psi"].items()})
        values.update(found["performance"])
        values.update({f"refused:{kind}": points for kind, points in found["refused"].items()})
        metric = request.query_params.get("metric", "")
        if metric:
            if metric not in values:
                raise ValidationError(
                    {
                        "metric": [
                            f"“{metric}” is not a metric here; choose one of {', '.join(values)}."
                        ]
                    }
                )
            values = {metric: values[metric]}
        return Response(
            {
                "deployment": deployment.pk,
                "model": deployment.model.slug,
                "environment": deployment.environment.slug,
                "version": deployment.version.number,
                "metric": metric,
                "span_seconds": found["span_seconds"],
                "t": found["t"],
                "values": values,
            }
        )
