"""``{{ shown|figure }}``: one published figure as the report pages write it — its text, or,
when hidden under the small-number rule, its marker with words for screen readers. A filter
rather than an included template: a report has hundreds of cells."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from saferoom.reports.publish import NOT_DEFINED, Shown

register = template.Library()


@register.filter
def figure(shown: Shown | None) -> SafeString:
    if shown is None:
        return SafeString(NOT_DEFINED)
    if shown.value is None and shown.hidden:
        return format_html(
            '<span class="hidden-figure" data-hidden="{}">{}'
            '<span class="visually-hidden"> {}</span></span>',
            shown.hidden,
            shown.text,
            _("(hidden under the small-number rule)"),
        )
    return conditional_escape(shown.text)
