from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import ErrorSerializer, ScopedAPIView
from apps.core.permissions import user_of
from apps.core.views import scoped_get
from apps.registry.models import ModelVersion, RegisteredModel
from apps.reviews import changes, services
from apps.reviews.api.serializers import (
    ChangeDecisionSerializer,
    ChangeProposalSerializer,
    CommentSerializer,
    DecisionRequestSerializer,
    ModelChangeSerializer,
    ReviewRequestSerializer,
    ReviewSerializer,
)
from apps.reviews.models import Comment, ModelChange, Review

ERRORS = {
    400: ErrorSerializer,
    401: ErrorSerializer,
    403: ErrorSerializer,
    404: ErrorSerializer,
    409: ErrorSerializer,
}


class VersionAPIView(ScopedAPIView):
    """An endpoint about one version, named by the model's slug and the version's number."""

    pagination_class = None  # one version's review, decisions and comments: short, whole
    queryset = ModelVersion.objects.select_related("model")

    def version(self, request: Request, slug: str, number: int) -> ModelVersion:
        return scoped_get(self.get_queryset(), model__slug=slug, number=number)

    def review(self, version: ModelVersion) -> dict[str, Any]:
        review = (
            Review.objects.select_related("version__model", "requested_by", "policy")
            .prefetch_related("decisions__reviewer")
            .get(version=version)
        )
        return dict(ReviewSerializer(review).data)


class ReviewView(VersionAPIView):
    """The version's review. POST requests it (the version must be validated, or failed with a
    justification where the policy allows exceptions)."""

    serializer_class = ReviewSerializer

    @extend_schema(responses={200: ReviewSerializer, **ERRORS})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(request, slug, number)
        if not Review.objects.filter(version=version).exists():
            return Response(
                {"detail": "This version has not been submitted for review."},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(self.review(version))

    @extend_schema(request=ReviewRequestSerializer, responses={201: ReviewSerializer, **ERRORS})
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(request, slug, number)
        body = ReviewRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.request_review(version.pk, actor=user_of(request), **body.validated_data)
        return Response(self.review(version), status=status.HTTP_201_CREATED)


class DecisionView(VersionAPIView):
    """Approve, reject or request changes, with a reason. 409 when the sign-off is taken or
    the review is closed."""

    serializer_class = ReviewSerializer

    @extend_schema(request=DecisionRequestSerializer, responses={201: ReviewSerializer, **ERRORS})
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(request, slug, number)
        body = DecisionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.decide(
            version.pk,
            actor=user_of(request),
            verdict=body.validated_data["decision"],
            reason=body.validated_data["reason"],
        )
        return Response(self.review(version), status=status.HTTP_201_CREATED)


class CommentView(VersionAPIView):
    """The version's discussion. Markdown; @username mentions notify."""

    serializer_class = CommentSerializer

    @extend_schema(responses={200: CommentSerializer(many=True), **ERRORS})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(request, slug, number)
        return Response(
            CommentSerializer(
                Comment.objects.filter(version=version).select_related("author"), many=True
            ).data
        )

    @extend_schema(request=CommentSerializer, responses={201: CommentSerializer, **ERRORS})
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = self.version(request, slug, number)
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        comment = services.add_comment(
            version.pk, actor=user_of(request), body=body.validated_data["body"]
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class WaitingView(ScopedAPIView):
    """Open reviews waiting for your sign-off, oldest first."""

    pagination_class = None
    serializer_class = ReviewSerializer

    # waiting_for scopes by the versions you may see, and by the sign-offs you could give.
    queryset = None

    @extend_schema(responses={200: ReviewSerializer(many=True), 401: ErrorSerializer})
    def get(self, request: Request) -> Response:
        return Response(ReviewSerializer(services.waiting_for(user_of(request)), many=True).data)


class _ModelAPIView(ScopedAPIView):
    """Governed changes of the model named by the URL's slug."""

    pagination_class = None  # a model's proposals: few, answered whole
    serializer_class = ModelChangeSerializer

    queryset = ModelChange.objects.select_related("model", "proposed_by", "decided_by")

    def model(self, request: Request, slug: str) -> RegisteredModel:
        return scoped_get(RegisteredModel.objects.restrict(request.user), slug=slug)

    def change(self, request: Request, slug: str, pk: int) -> ModelChange:
        self.model(request, slug)
        return scoped_get(self.get_queryset(), model__slug=slug, pk=pk)


class ModelChangesView(_ModelAPIView):
    """Governed changes of a model's risk owner, owning team or risk tier. The team proposes
    (POST); the model's risk owner, compliance or an administrator decides, and a proposal of
    theirs takes effect at once."""

    @extend_schema(responses={200: ModelChangeSerializer(many=True), **ERRORS})
    def get(self, request: Request, slug: str) -> Response:
        changes = self.get_queryset().filter(model=self.model(request, slug))
        return Response(ModelChangeSerializer(changes, many=True).data)

    @extend_schema(
        request=ChangeProposalSerializer, responses={201: ModelChangeSerializer, **ERRORS}
    )
    def post(self, request: Request, slug: str) -> Response:
        model = self.model(request, slug)
        body = ChangeProposalSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = changes.propose_change(model.pk, actor=user_of(request), **body.validated_data)
        return Response(ModelChangeSerializer(change).data, status=status.HTTP_201_CREATED)


class ModelChangeView(_ModelAPIView):
    """One proposed change. POST approves or rejects it, with a reason (not by its proposer)."""

    @extend_schema(responses={200: ModelChangeSerializer, **ERRORS})
    def get(self, request: Request, slug: str, pk: int) -> Response:
        return Response(ModelChangeSerializer(self.change(request, slug, pk)).data)

    @extend_schema(
        operation_id="models_changes_decide",
        request=ChangeDecisionSerializer,
        responses={200: ModelChangeSerializer, **ERRORS},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        change = self.change(request, slug, pk)
        body = ChangeDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = changes.decide_change(
            change.pk,
            actor=user_of(request),
            approve=body.validated_data["decision"] == "approve",
            reason=body.validated_data["reason"],
        )
        return Response(ModelChangeSerializer(change).data)


class ModelChangeWithdrawView(_ModelAPIView):
    """The proposer withdraws a change still waiting for a decision."""

    @extend_schema(
        operation_id="models_changes_withdraw",
        request=None,
        responses={200: ModelChangeSerializer, **ERRORS},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        change = self.change(request, slug, pk)
        change = changes.withdraw_change(change.pk, actor=user_of(request))
        return Response(ModelChangeSerializer(change).data)
