from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import Task, shared_task
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mass_mail
from django.urls import reverse

from apps.core.links import absolute
from apps.notifications import webhooks

logger = logging.getLogger(__name__)


@shared_task(
    name="notifications.send_emails",
    ignore_result=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=4,
)
def send_emails(subject: str, body: str, url: str, user_ids: list[int]) -> int:
    """Email one notification to the people who asked for email; retried if SMTP fails."""
    footer = "\n\n-- \nYou receive this because of your notification settings: " + absolute(
        reverse("notifications:preferences")
    )
    messages = [
        (
            f"[MLOps Portal] {subject}",
            f"{body}\n\n{url}{footer}".strip(),
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
        )
        for user in User.objects.filter(pk__in=user_ids, is_active=True).exclude(email="")
    ]
    return send_mass_mail(messages, fail_silently=False) if messages else 0


@shared_task(name=webhooks.DELIVERY.task, bind=True, ignore_result=True)
def deliver_webhook(self: Task, job_uuid: str) -> None:
    """One attempt of one webhook delivery's job (time limits come from the job)."""
    webhooks.attempt(job_uuid, worker=self.request.hostname or "")
