"""The portal's display filters: ``{% load portal %}`` then ``{{ event.occurred_at|when }}``.

The formats themselves live in ``apps.core.formats``; these are the template side of them.
"""

from __future__ import annotations

from django import template

from apps.core import formats

register = template.Library()

register.filter("when", formats.when)
register.filter("day", formats.day)
register.filter("duration", formats.duration)
register.filter("ago", formats.ago)
register.filter("hours", formats.hours)
